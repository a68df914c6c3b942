"""Writing file data. A thread takes its pack groups one by one: the repository streams a
group's chunks (:meth:`kaikyo.repo.Repository.stream_pack`: span by span, each chunk
authenticated and opened once) and the thread writes each wherever the plan puts it (keeping
the holes of sparse files), and creates, finishes and closes each file it owns in one open.
Files shared by threads (or sparse) are created before the threads start and finished after.

:func:`_write_chunks` is the hot loop of a restore: it works on plain lists and locals, with
no call per chunk beyond writing it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kaikyo.repo import Repository, WantedBlobs
from kaikyo.snapshot.progress import Meter
from kaikyo.snapshot.restore.metadata import Inodes, apply_meta
from kaikyo.snapshot.restore.paths import map_oserror, replace
from kaikyo.snapshot.restore.plan import Chunks, Files

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
_REOPEN = os.O_WRONLY | os.O_NOFOLLOW
_UPDATE = os.O_RDWR | os.O_NOFOLLOW  # a file updated in place: its bytes are compared first
SPARSE_BLOCK = 4096
_ZERO_BLOCK = bytes(SPARSE_BLOCK)
_METER_STEP = 1 << 20  # bytes written are told to the meter a MiB at a time, not per chunk

# One pack group's rows by offset: row, offset, length, raw length, blob type, file number
# and offset in the file.
_Columns = tuple[list[int], list[int], list[int], list[int], list[int], list[int], list[int]]


@dataclass(frozen=True, slots=True)
class Job:
    """What the writing threads share; none of it changes while they run."""

    repo: Repository
    files: Files
    chunks: Chunks
    owner: bytearray  # per file: 0 the main thread, w + 1 worker w (see .assign)
    inodes: Inodes
    read_waste: float | None  # see kaikyo.repo.cut_spans
    meter: Meter  # files finished and bytes written, per pack group (see .progress)


def prepare_shared_files(job: Job, replacing: bool) -> None:
    """Create the files written by several workers (or sparse) before data arrives; make
    room for the others. A file updated in place stays as it is until its chunks arrive."""
    files, owner, inplace = job.files, job.owner, job.files.inplace
    for fno in range(len(files)):
        if fno in inplace:
            continue
        out = files.out(fno)
        replace(out, replacing)
        if owner[fno]:
            continue
        try:
            fd = os.open(out, _CREATE, 0o600)
            try:
                if fno in files.sparse:
                    os.ftruncate(fd, files.meta[fno * 5 + 4])
            finally:
                os.close(fd)
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(out)) from None


def create_empty(job: Job, fnos: list[int], warnings: list[str]) -> None:
    """Create and finish the empty files a worker owns (and the files updated in place that
    need no data: their size is set)."""
    files, create_mode, inplace = job.files, job.inodes.create_mode, job.files.inplace
    for fno in fnos:
        out = files.out(fno)
        try:
            if fno in inplace:
                fd = os.open(out, _REOPEN)
                os.ftruncate(fd, files.meta[fno * 5 + 4])
            else:
                fd = os.open(out, _CREATE, create_mode(files.meta[fno * 5]))
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(out)) from None
        try:
            finish_owned(job, fd, fno, warnings)
        finally:
            os.close(fd)
    job.meter.add(files=len(fnos))


def write_group(job: Job, g: int, me: int, stop: threading.Event, warnings: list[str]) -> int:
    """Write the chunks pack group ``g`` holds, until ``stop`` is set; create the files
    worker ``me - 1`` owns as their first chunk arrives, finish each after its last. Returns
    the bytes written."""
    chunks, repo = job.chunks, job.repo
    pno, first, end = chunks.groups[g]
    pack_id = repo.index.pack_id(pno)
    cols = _columns(chunks, first, end)
    rows, offs, lens, raws, types = cols[:5]
    ids = chunks.ids

    def blob_id(k: int) -> bytes:
        row = rows[k]
        return bytes(ids[row * 32 : row * 32 + 32])

    wanted = WantedBlobs(offs, lens, types, raws, blob_id, job.read_waste)
    fds: dict[int, int] = {}  # the files open for this group
    try:
        return _write_chunks(job, repo.stream_pack(pack_id, wanted), cols, me, fds, warnings, stop)
    finally:
        for fd in fds.values():
            os.close(fd)


def _columns(chunks: Chunks, first: int, end: int) -> _Columns:
    sel = chunks.order[first:end]
    return (
        sel.tolist(),
        chunks.offset[sel].tolist(),
        chunks.length[sel].tolist(),
        chunks.raw[sel].tolist(),
        chunks.blob_type[sel].tolist(),
        chunks.fno[sel].tolist(),
        chunks.foff[sel].tolist(),
    )


def _write_chunks(
    job: Job,
    stream: Iterator[bytes],
    cols: _Columns,
    me: int,
    fds: dict[int, int],
    warnings: list[str],
    stop: threading.Event,
) -> int:
    """The chunks of one pack group into the files (see :func:`write_group`)."""
    raws, fnos, foffs = cols[3], cols[5], cols[6]
    owner, files = job.owner, job.files
    f_rows, sparse, inplace = files.rows, files.sparse, files.inplace
    left: dict[int, int] = {}  # chunks still to write of the open files this worker owns
    written = finished = pending = 0  # pending: bytes not yet told to the meter
    meter = job.meter
    for k, plain in enumerate(stream):
        if stop.is_set():
            break
        pending += raws[k]
        if pending >= _METER_STEP:
            meter.add(bytes=pending)
            pending = 0
        fno = fnos[k]
        fd = fds.get(fno)
        if fd is None:
            fd = fds[fno] = _open_file(job, fno, me)
            if owner[fno] == me:
                left[fno] = f_rows[fno + 1] - f_rows[fno]
        if fno in inplace:
            written += pwrite_changed(fd, plain, foffs[k])
        elif fno in sparse:
            _pwrite_sparse(fd, plain, foffs[k])
            written += raws[k]
        else:
            os.pwrite(fd, plain, foffs[k])
            written += raws[k]
        if fno in left:
            left[fno] -= 1
            if not left[fno]:
                del left[fno], fds[fno]
                finished += 1
                try:
                    finish_owned(job, fd, fno, warnings)
                finally:
                    os.close(fd)
    meter.add(files=finished, bytes=pending)
    return written


def _open_file(job: Job, fno: int, me: int) -> int:
    """Open a file as its first chunk arrives: the worker that owns it creates it (or, for a
    file updated in place, sets its size); the others open what the main thread made."""
    files = job.files
    path = files.parent[fno] + b"/" + files.name[fno]
    inplace = fno in files.inplace
    if job.owner[fno] != me:
        return os.open(path, _UPDATE if inplace else _REOPEN)
    if not inplace:
        return os.open(path, _CREATE, job.inodes.create_mode(files.meta[fno * 5]))
    fd = os.open(path, _UPDATE)
    os.ftruncate(fd, files.meta[fno * 5 + 4])
    return fd


def finish_owned(job: Job, fd: int, fno: int, warnings: list[str]) -> None:
    """Metadata of a file created with :meth:`Inodes.create_mode`, by its open descriptor."""
    m, inodes = job.files.meta, job.inodes
    i = fno * 5
    meta = (m[i], m[i + 1], m[i + 2], m[i + 3])
    chown = inodes.chown(meta)
    chmod = inodes.chmod(meta[0])
    xattrs = job.files.xattrs.get(fno)
    existing = fno in job.files.inplace
    if chown or chmod or xattrs or existing:
        out = job.files.out(fno)
        apply_meta(fd, meta, xattrs, chown, chmod, warnings, out, existing=existing)
        return
    try:
        os.utime(fd, ns=(meta[3], meta[3]))
    except (OSError, NotImplementedError):
        pass


def finish_shared_files(job: Job, warnings: list[str]) -> None:
    """Size and metadata of the files the main thread owns, once all data is written."""
    files, owner, inodes = job.files, job.owner, job.inodes
    m = files.meta
    for fno in range(len(files)):
        if owner[fno]:
            continue
        out = files.out(fno)
        i = fno * 5
        with contextlib.suppress(OSError):
            if os.lstat(out).st_size != m[i + 4]:
                os.truncate(out, m[i + 4])
        meta = (m[i], m[i + 1], m[i + 2], m[i + 3])
        xattrs, chown = files.xattrs.get(fno), inodes.chown(meta)
        existing = fno in files.inplace
        apply_meta(out, meta, xattrs, chown, True, warnings, out, existing=existing)
        job.meter.add(files=1)


def pwrite_changed(fd: int, data: bytes, offset: int) -> int:
    """Write ``data`` at ``offset`` of a file updated in place, only the 4 KiB blocks that
    differ from what it holds there: a chunk differs as a whole, its bytes mostly not (a
    page changed in a database file). Returns the bytes written."""
    old = os.pread(fd, len(data), offset)
    if old == data:
        return 0
    n, m, block = len(data), len(old), SPARSE_BLOCK
    new_a = np.frombuffer(data, dtype=np.uint8)
    old_a = np.frombuffer(old, dtype=np.uint8)
    differs = np.ones((n + block - 1) // block, dtype=bool)
    whole = m // block
    if whole:
        cut = whole * block
        differs[:whole] = (
            new_a[:cut].reshape(whole, block) != old_a[:cut].reshape(whole, block)
        ).any(axis=1)
    if m % block and m == n:  # the last, partial block, when the file holds all of it
        differs[whole] = not np.array_equal(new_a[whole * block :], old_a[whole * block :])
    edges = np.flatnonzero(np.diff(np.concatenate(([0], differs.view(np.int8), [0]))))
    written = 0
    view = memoryview(data)
    for lo, hi in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        first, end = lo * block, min(n, hi * block)
        os.pwrite(fd, view[first:end], offset + first)
        written += end - first
    return written


def _pwrite_sparse(fd: int, data: bytes, offset: int) -> None:
    """Write ``data`` at ``offset`` but leave holes where whole aligned blocks are zero.

    A chunk of a sparse file often mixes data with long zero runs (the chunker cuts zeros
    only at its maximum size), so skipping all-zero chunks alone leaves the file dense.
    """
    view = memoryview(data)
    pos = 0
    start = -1  # start of the pending run of non-zero blocks
    while pos < len(view):
        end = min(len(view), pos + SPARSE_BLOCK - (offset + pos) % SPARSE_BLOCK)
        block = view[pos:end]
        zero = block == _ZERO_BLOCK[: end - pos]
        if zero and start >= 0:
            os.pwrite(fd, view[start:pos], offset + start)
            start = -1
        elif not zero and start < 0:
            start = pos
        pos = end
    if start >= 0:
        os.pwrite(fd, view[start:], offset + start)
