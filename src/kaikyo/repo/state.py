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
from kaikyo.repo.tuning import WriteTuning
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
        # How this session writes (restic's --compression, --pack-size); a forked backup
        # worker inherits it with the rest of the repository.
        self.tuning = WriteTuning()
        self._local = threading.local()

    def tune(self, tuning: WriteTuning) -> None:
        """Write with ``tuning`` from now on (the writers made afterwards, and this
        repository's own objects: index files, snapshots)."""
        self.tuning = tuning

    @property
    def compressor(self) -> Compressor:
        """This thread's compressor (a zstd context is not shared between threads), at the
        level the session writes at."""
        level = self.tuning.level(self.config)
        comp: Compressor | None = getattr(self._local, "compressor", None)
        if comp is None or comp.level != level:
            comp = Compressor(level)
            self._local.compressor = comp
        return comp

    def sealing_kit(self) -> SealingKit:
        """What a :class:`~kaikyo.repo.blobwriter.BlobWriter` needs to seal for this
        repository."""
        return SealingKit(
            self.cipher,
            self.hasher,
            self.index,
            self.tuning.level(self.config),
            self.tuning.target_pack_size(self.config),
        )

    def _check_name(self, name: str, raw: bytes) -> None:
        """A content-addressed object's bytes hash to its name, or IntegrityError."""
        if object_id(raw) != hex_from_name(name):
            raise IntegrityError(f"{name} does not match its name (corrupt or truncated)")
