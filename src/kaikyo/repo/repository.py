"""Repository: the keyed, encrypted view of a store, assembled from rooms with one job each.

Object names: ``config``, ``keys/H``, ``index/H``, ``snapshots/H``, ``locks/H``, ``data/HH/H``
where H is the SHA-256 of the stored bytes. Write order makes every crash safe: packs first,
then the index files that list them, then the snapshot that references them. A pack written
but not yet indexed (a killed backup) is adopted by the next writer
(:meth:`~kaikyo.repo.indexfiles.IndexFiles.adopt_unindexed`) instead of being uploaded again.

The rooms: :mod:`~kaikyo.repo.keyring` (key slots), :mod:`~kaikyo.repo.packs` (reading packs
and blobs), :mod:`~kaikyo.repo.indexfiles` (index files, adoption),
:mod:`~kaikyo.repo.snapshots` (manifests), :mod:`~kaikyo.repo.blobwriter` (the one place a
blob is sealed and packed) and :mod:`~kaikyo.repo.writer` (a write session).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from kaikyo.core.constants import CONFIG_NAME, KEY_PREFIX, KIND_CONFIG
from kaikyo.core.crypto.keys import MasterKey
from kaikyo.core.format.envelope import open_object, seal_object
from kaikyo.core.ids import object_id
from kaikyo.repo.blobwriter import BlobWriter
from kaikyo.repo.config import RepoConfig
from kaikyo.repo.indexfiles import IndexFiles
from kaikyo.repo.keyring import KeyInfo, KeyRing
from kaikyo.repo.packer import RawPack, Uploader, put_content_addressed
from kaikyo.repo.slots import NewKeys, ensure_absent, new_keys, unlock
from kaikyo.repo.snapshots import SnapshotRecord, Snapshots, check_snapshot_doc
from kaikyo.repo.state import hex_from_name
from kaikyo.repo.writer import INDEX_FLUSH_PACKS, RepositoryWriter
from kaikyo.store import ReadOnlyStore, Store

__all__ = [
    "INDEX_FLUSH_PACKS",
    "KeyInfo",
    "Repository",
    "RepositoryWriter",
    "SnapshotRecord",
    "check_snapshot_doc",
]


class Repository(KeyRing, IndexFiles, Snapshots):
    """An opened repository. Thread-safe for reads; writes go through :meth:`writer`."""

    @classmethod
    def create(
        cls,
        store: Store,
        password: str,
        config: RepoConfig | None = None,
        meta: dict[str, Any] | None = None,
        kdf_cost: tuple[int, int] | None = None,
        keys: NewKeys | None = None,
    ) -> tuple[Repository, str]:
        """Create a repository; returns it and the recovery key (shown once, never stored).

        ``keys`` made beforehand by :func:`kaikyo.repo.slots.new_keys` (the CLI derives them
        before importing the engine) are used instead of making new ones.
        """
        ensure_absent(store)
        config = config or RepoConfig(repo_id=os.urandom(32).hex())
        config.chunker.validate()
        keys = keys or new_keys(password, meta, kdf_cost)
        key_id = object_id(keys.slot)
        put_content_addressed(store, KEY_PREFIX + key_id, keys.slot)
        put_content_addressed(store, KEY_PREFIX + object_id(keys.recovery_slot), keys.recovery_slot)
        repo = cls(store, keys.master, config, key_id)
        sealed = seal_object(repo.cipher, repo.compressor, KIND_CONFIG, config.to_json())
        store.put(CONFIG_NAME, sealed)
        return repo, keys.recovery

    @classmethod
    def open(cls, store: Store, password: str) -> Repository:
        master, slot_name = unlock(store, password)
        return cls.open_with_key(store, master, slot_name)

    @classmethod
    def open_with_key(cls, store: Store, master: MasterKey, slot_name: str) -> Repository:
        """Open with a master key already unwrapped from the slot ``slot_name`` (by
        :func:`kaikyo.repo.slots.unlock`; the CLI derives it before importing the engine)."""
        probe = Repository(store, master, RepoConfig(repo_id=""), "")
        plain = open_object(
            probe.cipher, probe.compressor, KIND_CONFIG, store.get(CONFIG_NAME), "repository config"
        )
        return cls(store, master, RepoConfig.from_json(plain), hex_from_name(slot_name))

    def forbid_writes(self) -> None:
        """From now on, this repository only reads: every store, overwrite or delete raises
        (for the commands that only read; see :class:`kaikyo.store.ReadOnlyStore`)."""
        if not isinstance(self.store, ReadOnlyStore):
            self.store = ReadOnlyStore(self.store)

    # ---- writing ------------------------------------------------------------------------

    def writer(self, max_in_flight: int = 4, *, dry_run: bool = False) -> RepositoryWriter:
        return RepositoryWriter(self, max_in_flight, dry_run=dry_run)

    def blob_writer(
        self,
        blob_type: int,
        on_pack: Callable[[RawPack], None],
        *,
        dry_run: bool = False,
        max_in_flight: int = 4,
    ) -> BlobWriter:
        """A writer of blobs of one type with an uploader of its own (a backup reader's, in
        a forked worker or in this process); its packs are reported to ``on_pack`` once
        durable, for a :class:`RepositoryWriter` to index."""
        uploader = Uploader(self.store, max_in_flight)
        return BlobWriter(
            self.sealing_kit(), blob_type, uploader, on_pack, dry_run=dry_run, owns_uploader=True
        )
