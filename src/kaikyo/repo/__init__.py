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
    from kaikyo.core.format.pack import PackEntry
    from kaikyo.repo.blobwriter import BlobStats, BlobWriter
    from kaikyo.repo.config import DEFAULT_PACK_SIZE, RepoConfig
    from kaikyo.repo.index import BlobLocation, MasterIndex
    from kaikyo.repo.locks import Lock, LockInfo, acquire_lock, list_locks, remove_stale_locks
    from kaikyo.repo.packer import (
        FinishedPack,
        RawPack,
        finished_pack,
        pack_name,
        remove_spools_of,
        spool_dir_for,
    )
    from kaikyo.repo.packs import READ_SPAN, WantedBlobs, cut_spans
    from kaikyo.repo.repack import repack_blobs
    from kaikyo.repo.repository import KeyInfo, Repository, RepositoryWriter, SnapshotRecord
    from kaikyo.repo.tuning import (
        COMPRESSION_MODES,
        MAX_PACK_SIZE,
        MIN_PACK_SIZE,
        Compression,
        WriteTuning,
    )

_WHERE = {
    "PackEntry": "packer",
    "BlobStats": "blobwriter",
    "BlobWriter": "blobwriter",
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
    "RawPack": "packer",
    "READ_SPAN": "packs",
    "WantedBlobs": "packs",
    "cut_spans": "packs",
    "finished_pack": "packer",
    "pack_name": "packer",
    "remove_spools_of": "packer",
    "spool_dir_for": "packer",
    "repack_blobs": "repack",
    "KeyInfo": "repository",
    "Repository": "repository",
    "RepositoryWriter": "repository",
    "SnapshotRecord": "repository",
    "COMPRESSION_MODES": "tuning",
    "MAX_PACK_SIZE": "tuning",
    "MIN_PACK_SIZE": "tuning",
    "Compression": "tuning",
    "WriteTuning": "tuning",
}


__getattr__ = exports(__name__, _WHERE, globals())

__all__ = [
    "COMPRESSION_MODES",
    "DEFAULT_PACK_SIZE",
    "MAX_PACK_SIZE",
    "MIN_PACK_SIZE",
    "READ_SPAN",
    "BlobLocation",
    "BlobStats",
    "BlobWriter",
    "Compression",
    "FinishedPack",
    "KeyInfo",
    "Lock",
    "LockInfo",
    "MasterIndex",
    "PackEntry",
    "RawPack",
    "RepoConfig",
    "Repository",
    "RepositoryWriter",
    "SnapshotRecord",
    "WantedBlobs",
    "WriteTuning",
    "acquire_lock",
    "cut_spans",
    "list_locks",
    "finished_pack",
    "pack_name",
    "remove_spools_of",
    "repack_blobs",
    "remove_stale_locks",
    "spool_dir_for",
]
