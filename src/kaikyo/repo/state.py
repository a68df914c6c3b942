"""What every room of an open repository shares: the store, the key, the config, the index.

:class:`kaikyo.repo.Repository` is assembled from rooms with one job each (key slots, packs,
index files, snapshots); each derives from :class:`RepositoryState`, so the attributes they
share are declared once, here.
"""

from __future__ import annotations

import threading

from kaikyo.core.compression import Compressor
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.crypto.keys import MasterKey
from kaikyo.core.hashing import BlobHasher
from kaikyo.core.ids import object_id
from kaikyo.errors import IntegrityError
from kaikyo.repo.badobjects import BadObjects
from kaikyo.repo.blobwriter import SealingKit
from kaikyo.repo.config import RepoConfig
from kaikyo.repo.index import MasterIndex
from kaikyo.store import Store


def hex_from_name(name: str) -> str:
    """The hex id at the end of an object name (``snapshots/H``, ``data/HH/H``)."""
    return name.rsplit("/", 1)[-1]


class RepositoryState:
    """An opened repository's shared state. Thread-safe for reads."""

    def __init__(self, store: Store, key: MasterKey, config: RepoConfig, key_id: str) -> None:
        self.store = store
        self.key = key
        self.config = config
        self.key_id = key_id
        self.cipher: Cipher = key.cipher()
        self.hasher = BlobHasher(key.blob_id)
        self.index = MasterIndex()
        self.indexed_files: set[str] = set()
        self.bad = BadObjects()
        # Packs an index names that are not stored (or are shorter than it says): how many
        # entries each lost. Kept for check, which reports them.
        self.unstored_packs: dict[bytes, int] = {}
        self._local = threading.local()

    @property
    def compressor(self) -> Compressor:
        """This thread's compressor (a zstd context is not shared between threads)."""
        comp: Compressor | None = getattr(self._local, "compressor", None)
        if comp is None:
            comp = Compressor(self.config.compression_level)
            self._local.compressor = comp
        return comp

    def sealing_kit(self) -> SealingKit:
        """What a :class:`~kaikyo.repo.blobwriter.BlobWriter` needs to seal for this
        repository."""
        return SealingKit(
            self.cipher,
            self.hasher,
            self.index,
            self.config.compression_level,
            self.config.pack_size,
        )

    def _check_name(self, name: str, raw: bytes) -> None:
        """A content-addressed object's bytes hash to its name, or IntegrityError."""
        if object_id(raw) != hex_from_name(name):
            raise IntegrityError(f"{name} does not match its name (corrupt or truncated)")
