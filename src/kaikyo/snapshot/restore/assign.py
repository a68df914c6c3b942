"""Sharing the data among the threads: the chunk rows grouped by pack, the packs shared
among the workers by bytes, and each file given to the one thread that creates and finishes
it (the thread of its pack when all its chunks sit in one; else the main thread)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kaikyo.snapshot.restore.plan import Chunks, Files

MAX_WORKERS = 64


@dataclass(frozen=True, slots=True)
class Assignment:
    """Per worker: its pack groups (indices into ``Chunks.groups``) and the empty files it
    creates; per file its owner (0: the main thread, shared or sparse; w + 1: worker w)."""

    shares: list[list[int]]
    empty_shares: list[list[int]]
    owner: bytearray


def group_by_pack(chunks: Chunks) -> None:
    """Set ``chunks.order`` (the rows by pack, then offset) and ``chunks.groups``."""
    nrows = len(chunks.pack)
    order = np.lexsort((chunks.offset, chunks.pack)).astype(np.uint32)
    by_pack = chunks.pack[order]
    cuts = (np.flatnonzero(by_pack[1:] != by_pack[:-1]) + 1).tolist()
    if nrows:
        chunks.groups = [
            (int(by_pack[a]), a, b) for a, b in zip([0, *cuts], [*cuts, nrows], strict=True)
        ]
    chunks.order = order


def assign(chunks: Chunks, files: Files, workers: int) -> Assignment:
    """Share packs among workers by bytes; give each single-pack file to its pack's worker,
    and the empty files round the workers."""
    groups = chunks.groups
    n = max(1, min(workers, len(groups), MAX_WORKERS))
    shares: list[list[int]] = [[] for _ in range(n)]
    empty_shares: list[list[int]] = [[] for _ in range(n)]
    owner = np.zeros(len(files), dtype=np.uint8)
    starts = np.frombuffer(files.rows, dtype=np.uint32)
    counts = np.diff(starts)
    if groups:
        worker_of = _share_packs(chunks, shares)
        filled = np.flatnonzero(counts)
        low = np.minimum.reduceat(chunks.pack, starts[filled])
        high = np.maximum.reduceat(chunks.pack, starts[filled])
        one = low == high
        owner[filled[one]] = worker_of[low[one]] + 1
    empty = np.flatnonzero(counts == 0)
    owner[empty] = empty % n + 1
    for fno in files.sparse:
        owner[fno] = 0
    for fno in empty.tolist():
        if fno not in files.sparse:
            empty_shares[fno % n].append(fno)
    return Assignment(shares, empty_shares, bytearray(owner.tobytes()))


def _share_packs(chunks: Chunks, shares: list[list[int]]) -> npt.NDArray[np.uint8]:
    """Fill ``shares``: the groups with most chunks first, each to the least loaded worker
    (bytes, and 4 KiB per chunk). Returns the worker of each pack number."""
    groups = chunks.groups
    o = chunks.order
    by_pack, by_offset = chunks.pack[o], chunks.offset[o]
    new = np.ones(len(o), dtype=bool)  # the first row of each distinct chunk
    new[1:] = (by_pack[1:] != by_pack[:-1]) | (by_offset[1:] != by_offset[:-1])
    firsts = np.array([g[1] for g in groups], dtype=np.int64)
    blobs = np.add.reduceat(new.astype(np.int64), firsts).tolist()
    nbytes = np.add.reduceat(np.where(new, chunks.length[o], 0).astype(np.int64), firsts).tolist()
    del by_pack, by_offset, new
    worker_of = np.zeros(int(chunks.pack.max()) + 1, dtype=np.uint8)
    loads = [0] * len(shares)
    for g in sorted(range(len(groups)), key=blobs.__getitem__, reverse=True):
        w = loads.index(min(loads))
        shares[w].append(g)
        worker_of[groups[g][0]] = w
        loads[w] += nbytes[g] + 4096 * blobs[g]
    return worker_of
