"""The one place a blob becomes stored: deduplicated, compressed, sealed and packed.

Data chunks (from the backup's readers) and trees (from the walk) go through the same four
steps, as restic hands every blob to the repository's ``SaveBlob`` and Kopia writes directories
through its object writer: so the envelope, the dedup rule and the pack layout are decided in
one module of the ``repo`` layer, and the snapshot layer never touches a cipher or a pack.

A writer stores blobs of one type (trees and data go to packs of their own, so reading trees
never drags data along). It remembers the blobs it stored this session, on top of the frozen
master index it was given; a forked backup worker has its own writer and its own set.

Big chunks are compressed and sealed on two threads (zstd and AES-GCM release the GIL), so one
large file still fills both cores; small ones inline, where a thread hand-off costs more.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from kaikyo.core.compression import Compressor
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.format.envelope import seal_blob
from kaikyo.repo.index import MasterIndex
from kaikyo.repo.packer import PackWriter, RawPack, Uploader

BIG_CHUNK = 256 * 1024
MAX_PENDING = 6  # big chunks in compression at once, each held with its copy and its result
# (against 10: about 5 MiB less per reader at the tree backup's peak, where memory is the
# tight goal, for about 7% more time on the bench image, 6.5 s against 6.1)

Buffer = bytes | memoryview


@dataclass
class BlobStats:
    """What a writer stored: new blobs, their plaintext bytes and their sealed bytes."""

    blobs_new: int = 0
    bytes_new: int = 0
    bytes_stored: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "bytes_new": self.bytes_new,
            "blobs_new": self.blobs_new,
            "bytes_stored": self.bytes_stored,
        }


@dataclass(frozen=True)
class SealingKit:
    """What sealing needs from an open repository: its cipher, keyed hash, index and settings.
    (A narrow view, so a writer can be built in a forked worker from the inherited repository
    without the writer reaching into it.)"""

    cipher: Cipher
    hasher: Callable[[Buffer], bytes]
    index: MasterIndex
    compression_level: int | None  # None: stored uncompressed
    pack_size: int


class BlobWriter:
    """Stores blobs of one type; finished packs reach ``on_pack`` once durable in the store.

    ``dry_run``: count what would be new, store nothing. ``owns_uploader``: the uploader is
    this writer's alone (a backup worker's), closed with it.
    """

    def __init__(
        self,
        kit: SealingKit,
        blob_type: int,
        uploader: Uploader,
        on_pack: Callable[[RawPack], None],
        *,
        dry_run: bool = False,
        owns_uploader: bool = False,
    ) -> None:
        self._kit = kit
        self._uploader = uploader
        self._owns_uploader = owns_uploader
        self._type = blob_type
        self._hasher = kit.hasher
        self._index = kit.index
        self._cipher = kit.cipher
        self.dry_run = dry_run
        self.compressor = Compressor(kit.compression_level)
        self.packer = PackWriter(kit.cipher, self.compressor, kit.pack_size, uploader, on_pack)
        self.seen: set[bytes] = set()
        self.stats = BlobStats()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[bytes, int, Future[bytes]]] = deque()
        self._local = threading.local()

    # ---- saving -------------------------------------------------------------------------

    def blob_id(self, data: Buffer) -> bytes:
        """The id a blob of these bytes has in this repository (its keyed hash)."""
        return self._hasher(data)

    def save(self, data: Buffer) -> bytes:
        """Store one blob unless the repository or this session has it; return its id."""
        blob_id = self._hasher(data)
        if blob_id in self.seen or blob_id in self._index:
            return blob_id
        self.seen.add(blob_id)
        self.stats.blobs_new += 1
        if self.dry_run:
            self.stats.bytes_new += len(data)
            return blob_id
        self._seal_inline(blob_id, data)
        return blob_id

    def save_many(self, chunks: Sequence[memoryview]) -> list[bytes]:
        """Store the new ones among ``chunks`` (of one or several files); return all ids.

        The caller may reuse the chunks' buffer as soon as this returns: what is still being
        compressed was copied.
        """
        big = len(chunks) > 1 and sum(len(c) for c in chunks) >= len(chunks) * BIG_CHUNK
        # Hashed here, not on the pool: queued behind the compressions in flight, the hashes
        # stalled reading and chunking (BLAKE3 runs at ~2 GB/s, zstd-3 at ~0.3).
        ids = [self._hasher(c) for c in chunks]
        known = self._index.contains_many(ids)
        seen = self.seen
        fresh = []
        for k, (bid, chunk) in enumerate(zip(ids, chunks, strict=True)):
            if known[k] or bid in seen:
                continue
            seen.add(bid)
            fresh.append((bid, chunk))
        if not fresh:
            return ids
        self.stats.blobs_new += len(fresh)
        if self.dry_run:
            self.stats.bytes_new += sum(len(c) for _, c in fresh)
            return ids
        if big:
            # Compressed and sealed on the pool's threads while the caller reads and chunks
            # the next block; packed later, in order. Copied: the caller reuses its buffer.
            pool = self._threads()
            for bid, chunk in fresh:
                data = bytes(chunk)
                self._pending.append((bid, len(data), pool.submit(self._seal_on_thread, bid, data)))
            while len(self._pending) > MAX_PENDING:
                self._pack_oldest()
            return ids
        for bid, chunk in fresh:
            self._seal_inline(bid, chunk)
        return ids

    # ---- sealing and packing ------------------------------------------------------------

    def _seal_inline(self, blob_id: bytes, data: Buffer) -> None:
        comp, payload = self.compressor.compress(data)
        self._pack(blob_id, len(data), seal_blob(self._cipher, self._type, blob_id, comp, payload))

    def _seal_on_thread(self, blob_id: bytes, data: bytes) -> bytes:
        """On a pool thread, with that thread's own compressor (a zstd context is not
        shared between threads)."""
        comp: Compressor | None = getattr(self._local, "c", None)
        if comp is None:
            comp = Compressor(self._kit.compression_level)
            self._local.c = comp
        return seal_blob(self._cipher, self._type, blob_id, *comp.compress(data))

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="compress")
        return self._pool

    def _pack(self, blob_id: bytes, raw_len: int, sealed: bytes) -> None:
        self.packer.add(self._type, blob_id, sealed, raw_len)
        self.stats.bytes_new += raw_len
        self.stats.bytes_stored += len(sealed)

    def _pack_oldest(self) -> None:
        bid, raw_len, fut = self._pending.popleft()
        self._pack(bid, raw_len, fut.result())

    # ---- ending -------------------------------------------------------------------------

    def flush(self) -> None:
        """Pack every blob still compressing and finish the open pack (its upload is queued;
        the uploader's ``wait`` makes it durable)."""
        while self._pending:
            self._pack_oldest()
        self.packer.flush()

    def finish(self) -> dict[str, int]:
        """Flush, then wait until every pack is durable; what was stored."""
        self.flush()
        self._uploader.wait()
        return self.stats.as_dict()

    def close(self) -> None:
        """Stop the threads; drop a pack still open (non-empty only if abandoned)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self._pending.clear()
        self.packer.discard()
        if self._owns_uploader:
            self._uploader.close()
