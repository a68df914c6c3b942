"""The restore plan: what a restore creates, as compact columns (arrays, not an object per
file), about 100 bytes per file and 70 per chunk.

:mod:`.walk` fills it from the snapshot's trees, :func:`locate` finds every chunk in the index
at once; every later step reads it. File numbers are walk order and index every column that
names files; :func:`keep_files` drops files and renumbers them all.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kaikyo.core.format.tree import NodeType
from kaikyo.errors import IntegrityError
from kaikyo.repo import Repository
from kaikyo.snapshot.restore.metadata import Meta, Xattrs

# Chunk ids located in the index per call (bounds the temporary arrays of a huge plan).
LOCATE_BATCH = 1 << 16
U32 = npt.NDArray[np.uint32]
# (path, type, symlink target or device number, meta, xattrs)
Special = tuple[bytes, NodeType, bytes | int, Meta, Xattrs | None]


@dataclass(slots=True)
class Files:
    """Files by number: directory (one shared bytes object per directory) and name; mode,
    uid, gid, mtime and size (``meta``, five per file); where its chunk rows end (``rows``,
    from 0); xattrs and sparseness by number."""

    parent: list[bytes] = field(default_factory=list)
    name: list[bytes] = field(default_factory=list)
    meta: array[int] = field(default_factory=lambda: array("q"))
    rows: array[int] = field(default_factory=lambda: array("I", [0]))
    xattrs: dict[int, Xattrs] = field(default_factory=dict)
    sparse: set[int] = field(default_factory=set)
    # Files already in the target that are updated where they are (only the chunks that
    # differ are written, then the size is set), not created anew: see .existing.
    inplace: set[int] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.name)

    def out(self, fno: int) -> bytes:
        return self.parent[fno] + b"/" + self.name[fno]


@dataclass(slots=True)
class Dirs:
    """Directories in walk order (parents first): path; mode, uid, gid, mtime (four each)."""

    paths: list[bytes] = field(default_factory=list)
    meta: array[int] = field(default_factory=lambda: array("q"))
    xattrs: dict[int, Xattrs] = field(default_factory=dict)


class Chunks:
    """Every planned file's chunks as columns, one row per (file, chunk), in walk order.

    ``order`` lists the rows by (pack, offset); ``groups`` are its runs of one pack, as
    (pack number, first, end) into ``order``.
    """

    def __init__(self) -> None:
        empty: U32 = np.zeros(0, dtype=np.uint32)
        self.ids = bytearray()  # 32 bytes per row
        self.blob_type = np.zeros(0, dtype=np.uint8)
        self.pack = self.offset = self.length = self.raw = self.fno = self.order = empty
        self.foff = np.zeros(0, dtype=np.uint64)
        self.groups: list[tuple[int, int, int]] = []

    def blob_id(self, row: int) -> bytes:
        return bytes(self.ids[row * 32 : row * 32 + 32])


@dataclass(slots=True)
class Plan:
    """Everything one restore creates."""

    files: Files = field(default_factory=Files)
    dirs: Dirs = field(default_factory=Dirs)
    specials: list[Special] = field(default_factory=list)
    # (path of the file linked to, path of the link): paths, not file numbers, so that a file
    # can leave the plan (finished, or left as it is) and its links still be made.
    hardlinks: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: Chunks = field(default_factory=Chunks)
    # What is in the target where the snapshot has something else: removed (a directory
    # with all below it) before anything is written. See .existing.
    remove: list[bytes] = field(default_factory=list)
    # The share of a read's wanted bytes it may read besides (see kaikyo.repo.cut_spans):
    # bounded when the plan is the difference to an existing tree.
    read_waste: float | None = None


def keep_files(plan: Plan, keep: npt.NDArray[np.bool_]) -> None:
    """Keep only the files where ``keep`` is set (before :func:`locate`); file numbers
    shift down, and every column that names files follows."""
    files = plan.files
    renumber = np.cumsum(keep) - 1
    starts = np.frombuffer(files.rows, dtype=np.uint32)
    counts = np.diff(starts)
    rows = np.repeat(keep, counts)
    ids = np.frombuffer(plan.chunks.ids, dtype=np.uint8).reshape(-1, 32)
    plan.chunks.ids = bytearray(ids[rows].tobytes())
    del ids
    files.rows = array("I", [0])
    files.rows.frombytes(np.cumsum(counts[keep], dtype=np.uint32).tobytes())
    _renumber_files(plan, keep, renumber)


def _renumber_files(
    plan: Plan, keep: npt.NDArray[np.bool_], renumber: npt.NDArray[np.int64]
) -> None:
    """The per-file columns but the chunk rows, after files were dropped."""
    files = plan.files
    meta = np.frombuffer(files.meta, dtype=np.int64).reshape(-1, 5)
    files.meta = array("q", meta[keep].tobytes())
    kept = keep.tolist()
    files.parent = [p for p, k in zip(files.parent, kept, strict=True) if k]
    files.name = [n for n, k in zip(files.name, kept, strict=True) if k]
    files.xattrs = {int(renumber[f]): x for f, x in files.xattrs.items() if kept[f]}
    files.sparse = {int(renumber[f]) for f in files.sparse if kept[f]}
    files.inplace = {int(renumber[f]) for f in files.inplace if kept[f]}


def drop_located(plan: Plan, keep_row: npt.NDArray[np.bool_], keep: npt.NDArray[np.bool_]) -> None:
    """After :func:`locate`: keep only the rows where ``keep_row`` is set, of the files where
    ``keep`` is set. A kept row keeps its offset in its file, so a file can be left with only
    the chunks that differ from what the target holds."""
    chunks, files = plan.chunks, plan.files
    renumber = np.cumsum(keep) - 1
    rows = keep_row & keep[chunks.fno]
    ids = np.frombuffer(chunks.ids, dtype=np.uint8).reshape(-1, 32)
    chunks.ids = bytearray(ids[rows].tobytes())
    del ids
    for name in ("blob_type", "pack", "offset", "length", "raw", "foff"):
        setattr(chunks, name, getattr(chunks, name)[rows])
    chunks.fno = renumber[chunks.fno[rows]].astype(np.uint32)
    counts = np.bincount(chunks.fno, minlength=int(keep.sum())).astype(np.uint32)
    files.rows = array("I", [0])
    files.rows.frombytes(np.cumsum(counts, dtype=np.uint32).tobytes())
    _renumber_files(plan, keep, renumber)


def locate(repo: Repository, plan: Plan) -> None:
    """Find every chunk in the index, and each row's offset in its file."""
    chunks = plan.chunks
    nrows = len(chunks.ids) >> 5
    blob_type = np.zeros(nrows, dtype=np.uint8)
    pack, offset, length, raw = (np.zeros(nrows, dtype=np.uint32) for _ in range(4))
    index = repo.index
    with memoryview(chunks.ids) as view:
        for lo in range(0, nrows, LOCATE_BATCH):
            hi = min(nrows, lo + LOCATE_BATCH)
            loc = index.locate_many(view[lo * 32 : hi * 32])
            if not loc.found.all():
                bid = chunks.blob_id(lo + int(np.flatnonzero(~loc.found)[0]))
                repo.blob_location(bid)  # raises the error a lookup raises
                raise IntegrityError(f"blob {bid.hex()[:8]} is missing from the index")
            blob_type[lo:hi] = loc.blob_type
            pack[lo:hi] = loc.pack
            offset[lo:hi] = loc.offset
            length[lo:hi] = loc.length
            raw[lo:hi] = loc.raw_length
    starts = np.frombuffer(plan.files.rows, dtype=np.uint32)
    fno = np.repeat(np.arange(len(plan.files), dtype=np.uint32), np.diff(starts))
    ends = np.zeros(nrows + 1, dtype=np.uint64)
    np.cumsum(raw, out=ends[1:])
    chunks.foff = ends[:-1] - ends[starts[:-1]][fno]
    del ends
    chunks.blob_type, chunks.pack, chunks.offset, chunks.length, chunks.raw = (
        blob_type,
        pack,
        offset,
        length,
        raw,
    )
    chunks.fno = fno
