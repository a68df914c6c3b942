"""A write session: blobs go into packs, packs into index files, in crash-safe order."""

from __future__ import annotations

import threading

from kaikyo.core.constants import (
    BLOB_TREE,
)
from kaikyo.core.format.index import encode_index_raw
from kaikyo.repo.blobwriter import BlobWriter
from kaikyo.repo.indexfiles import IndexFiles
from kaikyo.repo.packer import RawPack, Uploader

INDEX_FLUSH_PACKS = 32


class RepositoryWriter:
    """A write session: blobs go into packs, packs into index files, in crash-safe order.

    Trees are stored by the session's own :class:`BlobWriter`; data comes from the backup's
    readers, each with its writer (:meth:`Repository.blob_writer`), whose finished packs are
    handed to :meth:`pack_done`, the session's pack sink.
    """

    def __init__(self, repo: IndexFiles, max_in_flight: int = 4, *, dry_run: bool = False) -> None:
        self.repo = repo
        self.uploader = Uploader(repo.store, max_in_flight)
        self._lock = threading.Lock()
        # Indexed packs, kept as encoded index plaintext until flush: a list of PackEntry
        # objects would cost about 300 bytes per blob of a large backup.
        self._finished: list[bytes] = []
        self._unwritten: list[RawPack] = []
        self.dry_run = dry_run
        self.trees = BlobWriter(
            repo.sealing_kit(), BLOB_TREE, self.uploader, self.pack_done, dry_run=dry_run
        )

    def pack_done(self, finished: RawPack) -> None:
        """Record a pack that is now durable in the store (any thread): the encoded entry
        table, as a worker sends it. Every ``INDEX_FLUSH_PACKS`` packs an index file is
        written, so a killed backup leaves little to adopt."""
        with self._lock:
            self._unwritten.append(finished)
            flush = len(self._unwritten) >= INDEX_FLUSH_PACKS
            if flush:
                batch, self._unwritten = self._unwritten, []
        if flush:
            plain = encode_index_raw(batch)
            self.repo.write_index_plain(plain)
            with self._lock:
                self._finished.append(plain)

    def save_tree(self, raw: bytes) -> bytes:
        return self.trees.save(raw)

    def flush(self) -> None:
        """Make everything written so far durable and indexed."""
        self.trees.flush()
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
        self.trees.close()  # drops an unfinished pack only if the session was abandoned
        self.uploader.close()
