"""Backup worker processes: read, chunk, hash, deduplicate, compress, seal, pack, upload.

Why processes: on many small files the cost is per file and in Python, so threads would hold
the GIL; a forked worker and the main process, which reads batches itself whenever the worker
is two batches behind, use both cores. (The main process reads with the same
:class:`ChunkSaver`; see :mod:`kaikyo.snapshot.pool`.)
Each worker inherits the frozen master index at fork (shared copy-on-write, never written),
keeps its own set of blobs it stored this session, writes its own packs and uploads them on a
small thread pool. For big files it compresses chunks on two threads (zstd releases the GIL)
so one large file still fills both cores.

Protocol (one duplex pipe per worker): main sends ``("batch", n, [(path, size)])`` and
``("flush",)``; the worker answers ``("batch", n, results)``, ``("pack", pack_id, entries)`` each
time a pack is durable, ``("flushed", stats)`` and ``("error", exception)``. EOF on the pipe (the
parent died) ends the worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import signal
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from kaikyo.core.chunking import chunk_lengths, split_stream
from kaikyo.core.compression import Compressor
from kaikyo.core.constants import BLOB_DATA
from kaikyo.core.format.envelope import seal_blob
from kaikyo.repo import PackWriter, RawPack, Repository, Uploader
from kaikyo.snapshot.fs import open_for_read

# A file result: (blob ids, bytes read) or an error message.
FileResult = tuple[list[bytes], int] | str

BIG_CHUNK = 256 * 1024
MAX_PENDING = 6  # big chunks in compression at once, each held with its copy and its result
# (against 10: about 5 MiB less per reader at the tree backup's peak, where memory is the
# tight goal, for about 7% more time on the bench image, 6.5 s against 6.1)
# Files up to READ_BLOCK are read whole into a reusable buffer, several to a buffer-full;
# bigger ones stream through it in blocks of STREAM_BLOCK, after the undecided tail (at most
# the largest chunk). The buffer is the larger of the two needs: 5 MiB with 4 MiB chunks.
READ_BLOCK = 4 * 1024 * 1024
STREAM_BLOCK = 1024 * 1024
GROUP_BUFFER = READ_BLOCK + 1  # one file of READ_BLOCK and the byte that shows it grew


class ChunkSaver:
    """Dedup + compress + seal + pack for one worker process."""

    def __init__(self, repo: Repository, uploader: Uploader, send_pack: Any, dry_run: bool) -> None:
        self.repo = repo
        self.params = repo.config.chunker
        self.hasher = repo.hasher
        self.cipher = repo.cipher
        self.compressor = Compressor(repo.config.compression_level)
        self.seen: set[bytes] = set()
        self.dry_run = dry_run
        self.bytes_new = 0
        self.bytes_stored = 0
        self.blobs_new = 0
        self.packer = PackWriter(
            self.cipher, self.compressor, repo.config.pack_size, uploader, send_pack
        )
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="compress")
        self._pending: deque[tuple[bytes, int, Future[bytes]]] = deque()
        self._local = threading.local()
        # Anonymous memory: a page is resident only once a read has reached it, so a reader
        # that sees only small files (an incremental backup) does not hold 5 MiB of zeros.
        # Big files stream through the same buffer (STREAM_BLOCK plus the largest chunk).
        size = max(GROUP_BUFFER, STREAM_BLOCK + self.params.max_size)
        self.group_view = memoryview(mmap.mmap(-1, size))

    def _compress_and_seal(self, bid: bytes, data: bytes) -> bytes:
        """On a pool thread: zstd and AES-GCM both release the GIL, and the thread that reads
        and chunks keeps only the packing."""
        comp: Compressor | None = getattr(self._local, "c", None)
        if comp is None:
            comp = Compressor(self.repo.config.compression_level)
            self._local.c = comp
        return seal_blob(self.cipher, BLOB_DATA, bid, *comp.compress(data))

    def save_chunks(self, chunks: list[memoryview]) -> list[bytes]:
        """Store the new ones among ``chunks`` (of one or several files); return all ids."""
        big = len(chunks) > 1 and sum(len(c) for c in chunks) >= len(chunks) * BIG_CHUNK
        # Hashed here, not on the pool: queued behind the compressions in flight, the hashes
        # stalled reading and chunking (BLAKE3 runs at ~2 GB/s, zstd-3 at ~0.3).
        ids = [self.hasher(c) for c in chunks]
        known = self.repo.index.contains_many(ids)
        fresh = []
        for k, (bid, chunk) in enumerate(zip(ids, chunks, strict=True)):
            if known[k] or bid in self.seen:
                continue
            self.seen.add(bid)
            fresh.append((bid, chunk))
        if not fresh:
            return ids
        self.blobs_new += len(fresh)
        if self.dry_run:
            self.bytes_new += sum(len(c) for _, c in fresh)
            return ids
        if big:
            # Big chunks are compressed and sealed on the pool's threads while this thread
            # reads and chunks the next block; they are packed later, in order. The bytes are
            # copied because the caller reuses its read buffer.
            for bid, chunk in fresh:
                data = bytes(chunk)
                self._pending.append(
                    (bid, len(data), self._pool.submit(self._compress_and_seal, bid, data))
                )
            while len(self._pending) > MAX_PENDING:
                self._pack_oldest()
            return ids
        # Small chunks compress inline, where a thread hand-off would cost more.
        for bid, chunk in fresh:
            comp, payload = self.compressor.compress(chunk)
            self._seal(bid, len(chunk), comp, payload)
        return ids

    def _seal(self, bid: bytes, raw_len: int, comp: int, payload: bytes | memoryview) -> None:
        self._pack(bid, raw_len, seal_blob(self.cipher, BLOB_DATA, bid, comp, payload))

    def _pack(self, bid: bytes, raw_len: int, sealed: bytes) -> None:
        self.packer.add(BLOB_DATA, bid, sealed, raw_len)
        self.bytes_new += raw_len
        self.bytes_stored += len(sealed)

    def _pack_oldest(self) -> None:
        bid, raw_len, fut = self._pending.popleft()
        self._pack(bid, raw_len, fut.result())

    def drain(self) -> None:
        """Pack every chunk still compressing (before a flush: packs must hold them all)."""
        while self._pending:
            self._pack_oldest()

    def close(self) -> None:
        self._pool.shutdown()


_PR_SET_PDEATHSIG = 1


def read_into(fd: int, view: memoryview, size: int) -> int:
    """Read into ``view`` (``size`` + 1 bytes long, the +1 to notice growth); return the bytes
    read. A read that ends exactly at ``size`` is taken as the end of the file: one system call
    per file instead of two (a file that grows meanwhile still shows it in the extra byte)."""
    got = 0
    while got < len(view):
        n = os.readv(fd, [view[got:]])
        if n == 0:
            break
        got += n
        if got == size:
            break
    return got


def process_batch(
    saver: ChunkSaver,
    files: list[tuple[bytes, int]],
    between_files: Callable[[], None] | None = None,
) -> list[FileResult]:
    """Chunk and save a batch; ``between_files`` is called before each file (the main
    process collects the workers' messages there, so none waits on a full pipe).

    Files up to READ_BLOCK are read one after another into the worker's reusable buffer (no
    allocation and no fresh pages per file) and their chunks are deduplicated together, one
    vector lookup per buffer-full. Bigger files stream through :func:`process_big_file`.
    """
    results: list[FileResult] = []
    params = saver.params
    view = saver.group_view
    pending: list[tuple[int, memoryview]] = []  # (result index, chunk) in file order
    used = 0

    def flush() -> None:
        nonlocal used
        if pending:
            ids = saver.save_chunks([c for _, c in pending])
            for (k, _), bid in zip(pending, ids, strict=True):
                entry = results[k]
                assert not isinstance(entry, str)
                entry[0].append(bid)
            for _, chunk in pending:
                chunk.release()
            pending.clear()
        used = 0

    for path, size in files:
        if between_files is not None:
            between_files()
        try:
            if size > READ_BLOCK:
                flush()  # the buffer is free for the big file to stream through
                results.append(process_big_file(saver, path, view))
                continue
            if used + size + 1 > len(view):
                flush()
            fd = open_for_read(path)
            try:
                n = read_into(fd, view[used : used + size + 1], size)
            finally:
                os.close(fd)
            if n > size:  # grew since the walk: store it as it is now, whatever its size
                flush()
                results.append(process_big_file(saver, path, view))
                continue
            results.append(([], n))
            if not n:
                continue
            k = len(results) - 1
            data = view[used : used + n]
            used += n
            if n <= params.min_size:
                pending.append((k, data))
                continue
            pos = 0
            for length in chunk_lengths(data, params):
                pending.append((k, data[pos : pos + length]))
                pos += length
            data.release()
        except OSError as exc:
            results.append(f"{exc.strerror or exc}")
    flush()
    return results


def process_big_file(
    saver: ChunkSaver, path: bytes, buffer: memoryview | None = None
) -> FileResult:
    """Stream a large file through the chunker with plain reads, in ``buffer`` if it is big
    enough (STREAM_BLOCK plus the largest chunk) and nothing else uses it.

    Not mmap: a file truncated while it is read would kill the worker with SIGBUS. Chunk
    boundaries are only taken where FastCDC could not have looked past the buffer
    (:func:`kaikyo.core.chunking.split_stream`), so they equal those of one pass over the file.
    """
    fd = open_for_read(path)
    try:
        ids: list[bytes] = []
        # One buffer for the whole file: the undecided tail moves to its front and the next
        # block is read in after it, instead of allocating (and faulting in) fresh megabytes
        # per block.
        need = STREAM_BLOCK + saver.params.max_size
        view = (
            buffer[:need]
            if buffer is not None and len(buffer) >= need
            else memoryview(bytearray(need))
        )
        filled = 0
        total = 0
        try:
            while True:
                n = os.readv(fd, [view[filled:]]) if filled < need else 0
                total += n
                filled += n
                final = n == 0
                if not final and filled < need:
                    continue  # short read: fill the buffer before chunking
                lengths, consumed = split_stream(view[:filled], saver.params, final)
                chunks, pos = [], 0
                for length in lengths:
                    chunks.append(view[pos : pos + length])
                    pos += length
                if chunks:
                    ids.extend(saver.save_chunks(chunks))
                for c in chunks:
                    c.release()
                del chunks
                if final:
                    return ids, total
                view[: filled - consumed] = view[consumed:filled]  # memmove: may overlap
                filled -= consumed
        finally:
            view.release()
    finally:
        os.close(fd)


def flush_saver(saver: ChunkSaver, uploader: Uploader) -> dict[str, int]:
    """Pack what is still compressing, finish the open pack, wait until every pack is durable;
    the saver's figures."""
    saver.drain()
    saver.packer.flush()
    uploader.wait()
    return {
        "bytes_new": saver.bytes_new,
        "blobs_new": saver.blobs_new,
        "bytes_stored": saver.bytes_stored,
    }


def close_saver(saver: ChunkSaver, uploader: Uploader) -> None:
    """Stop the saver's threads; drop a pack still open (only when the backup is abandoned)."""
    saver.close()
    saver.packer.discard()
    uploader.close()


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux PR_SET_PDEATHSIG),
    and leave now if the parent is already gone. SIGTERM kills at once (the default action,
    not the parent's handler); Ctrl-C is left to the parent, which stops its workers itself.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid and os.getppid() != parent_pid:
        os._exit(1)  # the parent died between the fork and the prctl


def worker_main(
    repo: Repository,
    conn: Connection,
    dry_run: bool,
    max_in_flight: int,
    inherited: list[Connection] | None = None,
    parent_pid: int = 0,
) -> None:
    """Entry point of a forked worker; runs until ``exit`` or EOF.

    ``inherited``: the parent's ends of the workers' pipes, this one's included, which the
    fork copied: closed at once, or this worker would hold its own pipe open and never see
    the parent go. And in case the parent dies without a word (``kill -9``), the kernel kills
    this worker with it (see :func:`die_with_parent`).
    """
    die_with_parent(parent_pid)
    for other in inherited or ():
        other.close()
    repo.store.reopen()
    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(msg)

    def on_pack(finished: RawPack) -> None:
        # Encoded, not pickled dataclasses: unpickling those cost the main process more CPU
        # than anything else it does per blob.
        send(("pack", *finished))

    uploader = Uploader(repo.store, max_in_flight)
    saver = ChunkSaver(repo, uploader, on_pack, dry_run)
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return
            if msg[0] == "batch":
                send(("batch", msg[1], process_batch(saver, msg[2])))
            elif msg[0] == "flush":
                send(("flushed", flush_saver(saver, uploader)))
            elif msg[0] == "exit":
                return
    except BaseException as exc:  # report to the parent, which raises it
        try:
            send(("error", exc))
        except Exception:
            send(("error", RuntimeError(repr(exc))))
    finally:
        close_saver(saver, uploader)
