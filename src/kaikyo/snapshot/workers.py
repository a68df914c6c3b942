"""Backup readers: read files and chunk them; the repository's data writer does the rest.

Why processes: on many small files the cost is per file and in Python, so threads would hold
the GIL; a forked worker and the main process, which reads batches itself whenever the worker
is two batches behind, use both cores. (The main process reads with the same
:class:`FileChunker`; see :mod:`kaikyo.snapshot.pool`.)
Each worker inherits the frozen master index at fork (shared copy-on-write, never written) and
has its own :class:`kaikyo.repo.BlobWriter`, which deduplicates against it and against what this
worker stored this session, then compresses, seals, packs and uploads (big chunks on two
threads, so one large file still fills both cores).

Protocol (one duplex pipe per worker): main sends ``("batch", n, [(path, size)])`` and
``("flush",)``; the worker answers ``("batch", n, results)``, ``("pack", pack_id, entries)`` each
time a pack is durable, ``("flushed", stats)`` and ``("error", exception)``. EOF on the pipe (the
parent died) ends the worker.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from kaikyo.core.chunking import ChunkerParams, chunk_lengths, split_stream
from kaikyo.core.constants import BLOB_DATA
from kaikyo.repo import BlobWriter, RawPack, Repository
from kaikyo.snapshot.fs import open_for_read

# A file result: (blob ids, bytes read) or an error message.
FileResult = tuple[list[bytes], int] | str

# Files up to READ_BLOCK are read whole into a reusable buffer, several to a buffer-full;
# bigger ones stream through it in blocks of STREAM_BLOCK, after the undecided tail (at most
# the largest chunk). The buffer is the larger of the two needs: 5 MiB with 4 MiB chunks.
READ_BLOCK = 4 * 1024 * 1024
STREAM_BLOCK = 1024 * 1024
GROUP_BUFFER = READ_BLOCK + 1  # one file of READ_BLOCK and the byte that shows it grew


class FileChunker:
    """One reader's state: the chunker's parameters, a reusable read buffer, and the
    repository's data writer its chunks go to (which deduplicates, seals and packs them)."""

    def __init__(self, writer: BlobWriter, params: ChunkerParams) -> None:
        self.writer = writer
        self.params = params
        # Anonymous memory: a page is resident only once a read has reached it, so a reader
        # that sees only small files (an incremental backup) does not hold 5 MiB of zeros.
        # Big files stream through the same buffer (STREAM_BLOCK plus the largest chunk).
        size = max(GROUP_BUFFER, STREAM_BLOCK + params.max_size)
        self.group_view = memoryview(mmap.mmap(-1, size))

    def save_chunks(self, chunks: list[memoryview]) -> list[bytes]:
        return self.writer.save_many(chunks)


def data_chunker(
    repo: Repository, on_pack: Callable[[RawPack], None], dry_run: bool, max_in_flight: int
) -> FileChunker:
    """A reader's chunker over a data writer of the repository's (with its own uploader)."""
    writer = repo.blob_writer(BLOB_DATA, on_pack, dry_run=dry_run, max_in_flight=max_in_flight)
    return FileChunker(writer, repo.config.chunker)


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


class _Group:
    """Small files read one after another into the reader's buffer, their chunks saved
    together (one vector lookup in the index per buffer-full)."""

    __slots__ = ("chunker", "params", "pending", "results", "used", "view")

    def __init__(self, chunker: FileChunker, results: list[FileResult]) -> None:
        self.chunker = chunker
        self.params = chunker.params
        self.view = chunker.group_view
        self.results = results
        self.pending: list[tuple[int, memoryview]] = []  # (result index, chunk), file order
        self.used = 0

    def flush(self) -> None:
        pending, results = self.pending, self.results
        if pending:
            ids = self.chunker.save_chunks([c for _, c in pending])
            for (k, _), bid in zip(pending, ids, strict=True):
                entry = results[k]
                assert not isinstance(entry, str)
                entry[0].append(bid)
            for _, chunk in pending:
                chunk.release()
            pending.clear()
        self.used = 0

    def add(self, path: bytes, size: int) -> bool:
        """Read a file of at most READ_BLOCK bytes into the buffer; False if it grew past
        ``size`` since the walk (the caller streams it whole instead)."""
        view, params = self.view, self.params
        if self.used + size + 1 > len(view):
            self.flush()
        used = self.used
        fd = open_for_read(path)
        try:
            n = read_into(fd, view[used : used + size + 1], size)
        finally:
            os.close(fd)
        if n > size:
            self.flush()
            return False
        self.results.append(([], n))
        if not n:
            return True
        k = len(self.results) - 1
        data = view[used : used + n]
        self.used = used + n
        if n <= params.min_size:
            self.pending.append((k, data))
            return True
        pos = 0
        for length in chunk_lengths(data, params):
            self.pending.append((k, data[pos : pos + length]))
            pos += length
        data.release()
        return True


def process_batch(
    saver: FileChunker,
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
    group = _Group(saver, results)
    for path, size in files:
        if between_files is not None:
            between_files()
        try:
            if size > READ_BLOCK:
                group.flush()  # the buffer is free for the big file to stream through
                results.append(process_big_file(saver, path, group.view))
            elif not group.add(path, size):
                # grew since the walk: store it as it is now, whatever its size
                results.append(process_big_file(saver, path, group.view))
        except OSError as exc:
            results.append(f"{exc.strerror or exc}")
    group.flush()
    return results


def process_big_file(
    saver: FileChunker, path: bytes, buffer: memoryview | None = None
) -> FileResult:
    """Stream a large file through the chunker (:func:`stream_fd`)."""
    fd = open_for_read(path)
    try:
        return stream_fd(saver, fd, buffer)
    finally:
        os.close(fd)


def stream_fd(
    saver: FileChunker,
    fd: int,
    buffer: memoryview | None = None,
    on_read: Callable[[int], None] | None = None,
) -> tuple[list[bytes], int]:
    """Chunk and save what ``fd`` gives until its end, with plain reads, in ``buffer`` if it
    is big enough (STREAM_BLOCK plus the largest chunk) and nothing else uses it; the blob ids
    and the bytes read. A file, standard input or a pipe: at most that buffer is held.
    ``on_read`` is told the bytes of each buffer-full once its chunks are saved (the
    progress of a stream, whose size nobody knows before its end).

    Not mmap: a file truncated while it is read would kill the worker with SIGBUS. Chunk
    boundaries are only taken where FastCDC could not have looked past the buffer
    (:func:`kaikyo.core.chunking.split_stream`), so they equal those of one pass over the file.
    """
    ids: list[bytes] = []
    # One buffer for the whole stream: the undecided tail moves to its front and the next
    # block is read in after it, instead of allocating (and faulting in) fresh megabytes
    # per block.
    need = STREAM_BLOCK + saver.params.max_size
    view = (
        buffer[:need] if buffer is not None and len(buffer) >= need else memoryview(bytearray(need))
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
                continue  # short read (a pipe gives 64 KiB at a time): fill the buffer first
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
            if on_read is not None and consumed:
                on_read(consumed)
            if final:
                return ids, total
            view[: filled - consumed] = view[consumed:filled]  # memmove: may overlap
            filled -= consumed
    finally:
        view.release()


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux PR_SET_PDEATHSIG),
    and leave now if the parent is already gone. SIGTERM kills at once (the default action,
    not the parent's handler); Ctrl-C is left to the parent, which stops its workers itself.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    killed_with_parent(parent_pid)()


def killed_with_parent(parent_pid: int) -> Callable[[], None]:
    """A function that has the kernel SIGKILL the process calling it when ``parent_pid`` (its
    parent) dies, and leaves at once if the parent is already gone: for a forked worker, or
    as ``preexec_fn`` of a command a backup reads (the setting survives ``exec``). libc is
    looked up here, in the parent, so the child between fork and exec only calls it."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the parent stops its children itself
        prctl = None

    def arm() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if parent_pid and os.getppid() != parent_pid:
            os._exit(1)  # the parent died between the fork and the prctl

    return arm


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

    saver = data_chunker(repo, on_pack, dry_run, max_in_flight)
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return
            if msg[0] == "batch":
                send(("batch", msg[1], process_batch(saver, msg[2])))
            elif msg[0] == "flush":
                send(("flushed", saver.writer.finish()))
            elif msg[0] == "exit":
                return
    except BaseException as exc:  # report to the parent, which raises it
        try:
            send(("error", exc))
        except Exception:
            send(("error", RuntimeError(repr(exc))))
    finally:
        saver.writer.close()
