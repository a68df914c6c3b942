"""Repository: the keyed, encrypted view of a store (read side) and write sessions.

Object names: ``config``, ``keys/H``, ``index/H``, ``snapshots/H``, ``locks/H``, ``data/HH/H``
where H is the SHA-256 of the stored bytes. Write order makes every crash safe: packs first,
then the index files that list them, then the snapshot that references them. A pack written
but not yet indexed (a killed backup) is adopted by the next writer (:meth:`adopt_unindexed`)
instead of being uploaded again.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kaikyo.core.compression import Compressor
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.crypto.keys import (
    MasterKey,
    make_key_slot,
    parse_key_slot,
)
from kaikyo.core.format.constants import (
    BLOB_TREE,
    CONFIG_NAME,
    DATA_PREFIX,
    INDEX_PREFIX,
    KEY_PREFIX,
    KIND_CONFIG,
    KIND_INDEX,
    KIND_SNAPSHOT,
    PACK_TRAILER_SIZE,
    SNAPSHOT_PREFIX,
)
from kaikyo.core.format.envelope import open_blob, open_object, seal_blob, seal_object
from kaikyo.core.format.index import encode_index, encode_index_raw
from kaikyo.core.format.pack import PackEntry, header_length, parse_header
from kaikyo.core.hashing import BlobHasher
from kaikyo.core.ids import object_id
from kaikyo.errors import (
    IntegrityError,
    NotFoundError,
    UsageError,
)
from kaikyo.repo.config import RepoConfig
from kaikyo.repo.index import BlobLocation, MasterIndex
from kaikyo.repo.packer import (
    FinishedPack,
    PackWriter,
    RawPack,
    Uploader,
    pack_name,
    put_content_addressed,
)
from kaikyo.repo.slots import NewKeys, ensure_absent, new_keys, slot_meta, unlock
from kaikyo.store import ObjectInfo, ObjectNotFound, Store

INDEX_FLUSH_PACKS = 32


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    kind: str
    user: str
    host: str
    created: float
    current: bool


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    snapshot_id: str
    doc: dict[str, Any]
    received: float | None  # when the store received it (the haven's clock), if known

    @property
    def time(self) -> float:
        return float(self.doc["time"])


def _hex_from_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]


class Repository:
    """An opened repository. Thread-safe for reads; writes go through :meth:`writer`."""

    def __init__(self, store: Store, key: MasterKey, config: RepoConfig, key_id: str) -> None:
        self.store = store
        self.key = key
        self.config = config
        self.key_id = key_id
        self.cipher: Cipher = key.cipher()
        self.hasher = BlobHasher(key.blob_id)
        self.index = MasterIndex()
        self.indexed_files: set[str] = set()
        self._local = threading.local()

    # ---- opening ------------------------------------------------------------------------

    @property
    def compressor(self) -> Compressor:
        comp: Compressor | None = getattr(self._local, "compressor", None)
        if comp is None:
            comp = Compressor(self.config.compression_level)
            self._local.compressor = comp
        return comp

    @classmethod
    def create(cls, store: Store, password: str, config: RepoConfig | None = None,
               meta: dict[str, Any] | None = None, kdf_cost: tuple[int, int] | None = None,
               keys: NewKeys | None = None) -> tuple[Repository, str]:
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
        put_content_addressed(store, KEY_PREFIX + object_id(keys.recovery_slot),
                              keys.recovery_slot)
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
        plain = open_object(probe.cipher, probe.compressor, KIND_CONFIG, store.get(CONFIG_NAME),
                            "repository config")
        return cls(store, master, RepoConfig.from_json(plain), _hex_from_name(slot_name))

    # ---- keys ---------------------------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        out = []
        for info in self.store.list(KEY_PREFIX):
            doc = parse_key_slot(self.store.get(info.name))
            kid = _hex_from_name(info.name)
            out.append(KeyInfo(kid, str(doc.get("kind", "passphrase")), str(doc.get("user", "")),
                               str(doc.get("host", "")), float(doc.get("created", 0)),
                               kid == self.key_id))
        return sorted(out, key=lambda k: k.created)

    def add_key(self, password: str, meta: dict[str, Any] | None = None,
                kdf_cost: tuple[int, int] | None = None) -> str:
        if not password:
            raise UsageError("an empty passphrase is not allowed")
        t, m = kdf_cost or (None, None)
        slot = make_key_slot(self.key, password.encode(), meta=slot_meta(meta),
                             time_cost=t, memory_kib=m)
        kid = object_id(slot)
        put_content_addressed(self.store, KEY_PREFIX + kid, slot)
        return kid

    def remove_key(self, key_prefix: str) -> str:
        matches = [k for k in self.list_keys() if k.key_id.startswith(key_prefix)]
        if not matches:
            raise NotFoundError(f"no key matches {key_prefix!r}")
        if len(matches) > 1:
            raise UsageError(f"key id {key_prefix!r} is ambiguous")
        victim = matches[0]
        if victim.current:
            raise UsageError("refusing to remove the key in use",
                             "open the repository with another key to remove this one")
        passphrase_keys = [k for k in self.list_keys() if k.kind == "passphrase"]
        if victim.kind == "passphrase" and len(passphrase_keys) <= 1:
            raise UsageError("refusing to remove the last passphrase key")
        self.store.delete(KEY_PREFIX + victim.key_id)
        return victim.key_id

    # ---- index --------------------------------------------------------------------------

    def load_index(self) -> None:
        names = [o.name for o in self.store.list(INDEX_PREFIX)]
        fresh = [n for n in names if n not in self.indexed_files]
        if not fresh:
            return

        def fetch(name: str) -> tuple[str, bytes]:
            return name, self.store.get(name)

        with ThreadPoolExecutor(max_workers=8) as pool:
            for name, raw in pool.map(fetch, fresh):
                self._check_name(name, raw)
                plain = open_object(self.cipher, self.compressor, KIND_INDEX, raw, name)
                self.index.add_index_plain(plain, name)
                self.indexed_files.add(name)
        self.index.freeze()

    def _check_name(self, name: str, raw: bytes) -> None:
        if object_id(raw) != _hex_from_name(name):
            raise IntegrityError(f"{name} does not match its name (corrupt or truncated)")

    def write_index(self, packs: Iterable[FinishedPack]) -> str | None:
        items = list(packs)
        if not items:
            return None
        return self.write_index_plain(encode_index(items))

    def write_index_plain(self, plain: bytes) -> str:
        sealed = seal_object(self.cipher, self.compressor, KIND_INDEX, plain)
        name = INDEX_PREFIX + object_id(sealed)
        put_content_addressed(self.store, name, sealed)
        self.indexed_files.add(name)
        return name

    def read_pack_header(self, pack_id: bytes, size: int | None = None) -> list[PackEntry]:
        name = pack_name(pack_id)
        if size is None:
            size = self.store.stat(name).size
        what = f"pack {pack_id.hex()[:8]}"
        if size < PACK_TRAILER_SIZE:
            raise IntegrityError(f"{what} is truncated")
        # One ranged read usually covers the header; a big header needs a second one.
        guess = min(size, 64 * 1024)
        tail = self.store.get(name, size - guess, guess)
        hlen = header_length(tail)
        if hlen + PACK_TRAILER_SIZE > size:
            raise IntegrityError(f"{what} is truncated")
        if hlen + PACK_TRAILER_SIZE > guess:
            tail = self.store.get(name, size - hlen - PACK_TRAILER_SIZE, hlen + PACK_TRAILER_SIZE)
        header = tail[len(tail) - PACK_TRAILER_SIZE - hlen : len(tail) - PACK_TRAILER_SIZE]
        return parse_header(self.cipher, self.compressor, header, size, what)

    def list_packs(self) -> dict[bytes, ObjectInfo]:
        out = {}
        for info in self.store.list(DATA_PREFIX):
            try:
                out[bytes.fromhex(_hex_from_name(info.name))] = info
            except ValueError:
                continue
        return out

    def adopt_unindexed(self, on_error: Callable[[bytes, Exception], None] | None = None) -> int:
        """Index packs that are stored but listed in no index (left by a killed writer).

        Returns how many packs were adopted. Unreadable ones are reported and skipped.
        """
        known = set(self.index.pack_ids())
        orphans = [(pid, info) for pid, info in self.list_packs().items() if pid not in known]
        adopted: list[FinishedPack] = []
        for pid, info in orphans:
            try:
                entries = self.read_pack_header(pid, info.size)
            except (IntegrityError, ObjectNotFound) as exc:
                if on_error:
                    on_error(pid, exc)
                continue
            self.index.add_pack(pid, entries)
            adopted.append((pid, entries))
        if adopted:
            self.write_index(adopted)
            self.index.freeze()
        return len(adopted)

    # ---- blobs --------------------------------------------------------------------------

    def blob_location(self, blob_id: bytes) -> BlobLocation:
        loc = self.index.lookup(blob_id)
        if loc is None:
            raise IntegrityError(f"blob {blob_id.hex()[:8]} is missing from the index")
        return loc

    def load_blob(self, blob_id: bytes) -> bytes:
        loc = self.blob_location(blob_id)
        try:
            sealed = self.store.get(pack_name(loc.pack_id), loc.offset, loc.length)
        except ObjectNotFound:
            raise IntegrityError(f"pack {loc.pack_id.hex()[:8]} holding blob "
                                 f"{blob_id.hex()[:8]} is missing") from None
        return self.open_sealed_blob(loc, blob_id, sealed)

    def open_sealed_blob(self, loc: BlobLocation, blob_id: bytes, sealed: bytes | memoryview
                         ) -> bytes:
        plain = open_blob(self.cipher, self.compressor, loc.blob_type, blob_id, sealed,
                          loc.raw_length)
        if len(plain) != loc.raw_length:
            raise IntegrityError(f"blob {blob_id.hex()[:8]} has the wrong length")
        return plain

    def load_tree_raw(self, tree_id: bytes) -> bytes:
        return self.load_blob(tree_id)

    # ---- snapshots ----------------------------------------------------------------------

    def list_snapshots(self) -> list[SnapshotRecord]:
        infos = list(self.store.list(SNAPSHOT_PREFIX))

        def load(info: ObjectInfo) -> SnapshotRecord:
            raw = self.store.get(info.name)
            self._check_name(info.name, raw)
            doc = json.loads(open_object(self.cipher, self.compressor, KIND_SNAPSHOT, raw,
                                         info.name))
            return SnapshotRecord(_hex_from_name(info.name), doc, info.mtime)

        with ThreadPoolExecutor(max_workers=8) as pool:
            records = list(pool.map(load, infos))
        return sorted(records, key=lambda r: (r.time, r.snapshot_id))

    def save_snapshot(self, doc: dict[str, Any]) -> str:
        sealed = seal_object(self.cipher, self.compressor, KIND_SNAPSHOT,
                             json.dumps(doc, sort_keys=True).encode())
        sid = object_id(sealed)
        put_content_addressed(self.store, SNAPSHOT_PREFIX + sid, sealed)
        return sid

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.store.delete(SNAPSHOT_PREFIX + snapshot_id)

    def find_snapshot(self, ref: str, records: list[SnapshotRecord] | None = None
                      ) -> SnapshotRecord:
        """Resolve ``latest`` or a (prefix of a) snapshot id."""
        records = self.list_snapshots() if records is None else records
        if ref == "latest":
            if not records:
                raise NotFoundError("the repository has no snapshots yet")
            return records[-1]
        matches = [r for r in records if r.snapshot_id.startswith(ref.lower())]
        if not matches:
            raise NotFoundError(f"no snapshot matches {ref!r}",
                                "list them with 'kaikyo snapshots'")
        if len(matches) > 1:
            raise UsageError(f"snapshot id {ref!r} is ambiguous; give more digits")
        return matches[0]

    # ---- writing ------------------------------------------------------------------------

    def writer(self, max_in_flight: int = 4) -> RepositoryWriter:
        return RepositoryWriter(self, max_in_flight)


class RepositoryWriter:
    """A write session: blobs go into packs, packs into index files, in crash-safe order."""

    def __init__(self, repo: Repository, max_in_flight: int = 4) -> None:
        self.repo = repo
        self.uploader = Uploader(repo.store, max_in_flight)
        self._lock = threading.Lock()
        # Indexed packs, kept as encoded index plaintext until flush: a list of PackEntry
        # objects would cost about 300 bytes per blob of a large backup.
        self._finished: list[bytes] = []
        self._unwritten: list[RawPack] = []
        self._tree_packer = PackWriter(repo.cipher, repo.compressor, repo.config.pack_size,
                                       self.uploader, self.pack_done)
        self._session_trees: set[bytes] = set()

    def pack_done(self, finished: RawPack) -> None:
        """Record a pack that is now durable in the store (any thread)."""
        self.pack_done_raw(*finished)

    def pack_done_raw(self, pack_id: bytes, table: bytes, count: int) -> None:
        """Like :meth:`pack_done` with the entry table already encoded (from a worker)."""
        with self._lock:
            self._unwritten.append((pack_id, table, count))
            flush = len(self._unwritten) >= INDEX_FLUSH_PACKS
            if flush:
                batch, self._unwritten = self._unwritten, []
        if flush:
            plain = encode_index_raw(batch)
            self.repo.write_index_plain(plain)
            with self._lock:
                self._finished.append(plain)

    def save_tree(self, raw: bytes) -> bytes:
        tree_id = self.repo.hasher(raw)
        if tree_id in self._session_trees or tree_id in self.repo.index:
            return tree_id
        comp, payload = self.repo.compressor.compress(raw)
        sealed = seal_blob(self.repo.cipher, BLOB_TREE, tree_id, comp, payload)
        self._tree_packer.add(BLOB_TREE, tree_id, sealed, len(raw))
        self._session_trees.add(tree_id)
        return tree_id

    def flush(self) -> None:
        """Make everything written so far durable and indexed."""
        self._tree_packer.flush()
        self.uploader.wait()
        with self._lock:
            batch, self._unwritten = self._unwritten, []
        if batch:
            plain = encode_index_raw(batch)
            self.repo.write_index_plain(plain)
        with self._lock:
            if batch:
                self._finished.append(plain)
            finished, self._finished = self._finished, []
        for plain in finished:
            self.repo.index.add_index_plain(plain)
        self.repo.index.freeze()

    def close(self) -> None:
        self._tree_packer.discard()  # only non-empty if the session was abandoned
        self.uploader.close()
