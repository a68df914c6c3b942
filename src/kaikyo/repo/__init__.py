"""The repository engine: core formats over a store.

Vocabulary: a :class:`Repository` is opened with a passphrase and reads blobs, trees, index
files and snapshots; a :class:`RepositoryWriter` is a write session whose packs become
durable and indexed, in crash-safe order, on :meth:`RepositoryWriter.flush`.
"""

from kaikyo.repo.config import DEFAULT_PACK_SIZE, RepoConfig
from kaikyo.repo.index import BlobLocation, MasterIndex
from kaikyo.repo.locks import Lock, LockInfo, acquire_lock, list_locks, remove_stale_locks
from kaikyo.repo.packer import FinishedPack, PackWriter, Uploader, pack_name, put_content_addressed
from kaikyo.repo.repository import KeyInfo, Repository, RepositoryWriter, SnapshotRecord

__all__ = [
    "DEFAULT_PACK_SIZE",
    "BlobLocation",
    "FinishedPack",
    "KeyInfo",
    "Lock",
    "LockInfo",
    "MasterIndex",
    "PackWriter",
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
