"""The repository engine: core formats over a store.

Vocabulary: a :class:`Repository` is opened with a passphrase and reads blobs, trees, index
files and snapshots; a :class:`RepositoryWriter` is a write session whose packs become
durable and indexed, in crash-safe order, on :meth:`RepositoryWriter.flush`.

The names below are imported on first use (PEP 562), so ``kaikyo.repo.slots`` can open a key
before NumPy and the codecs are loaded: the CLI derives the key first, and Argon2id's 48 MiB
then never sit on top of the engine's libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaikyo.lazy import exports

if TYPE_CHECKING:
    from kaikyo.repo.config import DEFAULT_PACK_SIZE, RepoConfig
    from kaikyo.repo.index import BlobLocation, MasterIndex
    from kaikyo.repo.locks import Lock, LockInfo, acquire_lock, list_locks, remove_stale_locks
    from kaikyo.repo.packer import (
        FinishedPack,
        PackWriter,
        RawPack,
        Uploader,
        pack_name,
        put_content_addressed,
    )
    from kaikyo.repo.repository import KeyInfo, Repository, RepositoryWriter, SnapshotRecord

_WHERE = {
    "DEFAULT_PACK_SIZE": "config",
    "RepoConfig": "config",
    "BlobLocation": "index",
    "MasterIndex": "index",
    "Lock": "locks",
    "LockInfo": "locks",
    "acquire_lock": "locks",
    "list_locks": "locks",
    "remove_stale_locks": "locks",
    "FinishedPack": "packer",
    "PackWriter": "packer",
    "RawPack": "packer",
    "Uploader": "packer",
    "pack_name": "packer",
    "put_content_addressed": "packer",
    "KeyInfo": "repository",
    "Repository": "repository",
    "RepositoryWriter": "repository",
    "SnapshotRecord": "repository",
}


__getattr__ = exports(__name__, _WHERE, globals())

__all__ = [
    "DEFAULT_PACK_SIZE",
    "BlobLocation",
    "FinishedPack",
    "KeyInfo",
    "Lock",
    "LockInfo",
    "MasterIndex",
    "PackWriter",
    "RawPack",
    "RepoConfig",
    "Repository",
    "RepositoryWriter",
    "SnapshotRecord",
    "Uploader",
    "acquire_lock",
    "list_locks",
    "pack_name",
    "put_content_addressed",
    "remove_stale_locks",
]
