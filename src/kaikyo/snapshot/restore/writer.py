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

from kaikyo.repo import Repository, WantedBlobs
from kaikyo.snapshot.restore.metadata import Inodes, apply_meta
from kaikyo.snapshot.restore.paths import map_oserror, replace
from kaikyo.snapshot.restore.plan import Chunks, Files

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
_REOPEN = os.O_WRONLY | os.O_NOFOLLOW
SPARSE_BLOCK = 4096
_ZERO_BLOCK = bytes(SPARSE_BLOCK)

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


def prepare_shared_files(job: Job, replacing: bool) -> None:
    """Create the files written by several workers (or sparse) before data arrives; make
    room for the others."""
    files, owner = job.files, job.owner
    for fno in range(len(files)):
        if owner[fno]:
            replace(files.out(fno), replacing)
            continue
        out = files.out(fno)
        replace(out, replacing)
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                if fno in files.sparse:
                    os.ftruncate(fd, files.meta[fno * 5 + 4])
            finally:
                os.close(fd)
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(out)) from None


def create_empty(job: Job, fnos: list[int], warnings: list[str]) -> None:
    """Create and finish the empty files a worker owns."""
    files, create_mode = job.files, job.inodes.create_mode
    for fno in fnos:
        out = files.out(fno)
        try:
            fd = os.open(out, _CREATE, create_mode(files.meta[fno * 5]))
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(out)) from None
        try:
            finish_owned(job, fd, fno, warnings)
        finally:
            os.close(fd)


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

    wanted = WantedBlobs(offs, lens, types, raws, blob_id)
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
    owner, create_mode = job.owner, job.inodes.create_mode
    files = job.files
    parents, names, meta = files.parent, files.name, files.meta
    f_rows, sparse = files.rows, files.sparse
    left: dict[int, int] = {}  # chunks still to write of the open files this worker owns
    written = 0
    for k, plain in enumerate(stream):
        if stop.is_set():
            break
        fno = fnos[k]
        fd = fds.get(fno)
        if fd is None:
            path = parents[fno] + b"/" + names[fno]
            if owner[fno] == me:
                fd = os.open(path, _CREATE, create_mode(meta[fno * 5]))
                left[fno] = f_rows[fno + 1] - f_rows[fno]
            else:
                fd = os.open(path, _REOPEN)
            fds[fno] = fd
        if fno in sparse:
            _pwrite_sparse(fd, plain, foffs[k])
        else:
            os.pwrite(fd, plain, foffs[k])
        written += raws[k]
        if fno in left:
            left[fno] -= 1
            if not left[fno]:
                del left[fno], fds[fno]
                try:
                    finish_owned(job, fd, fno, warnings)
                finally:
                    os.close(fd)
    return written


def finish_owned(job: Job, fd: int, fno: int, warnings: list[str]) -> None:
    """Metadata of a file created with :meth:`Inodes.create_mode`, by its open descriptor."""
    m, inodes = job.files.meta, job.inodes
    i = fno * 5
    meta = (m[i], m[i + 1], m[i + 2], m[i + 3])
    chown = inodes.chown(meta)
    chmod = inodes.chmod(meta[0])
    xattrs = job.files.xattrs.get(fno)
    if chown or chmod or xattrs:
        apply_meta(fd, meta, xattrs, chown, chmod, warnings, job.files.out(fno))
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
        apply_meta(out, meta, files.xattrs.get(fno), inodes.chown(meta), True, warnings, out)


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
