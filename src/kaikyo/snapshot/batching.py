"""Batches: the files a backup must read go to the readers in batches, completed in order.

One batch is open per reader (files are routed by size, see
:meth:`kaikyo.snapshot.pool.WorkerPool.route`). A batch is sent when it holds BATCH_FILES files
or BATCH_BYTES bytes, or once the walk has gone BATCH_MAX_AGE entries past its first file;
batches are completed front first, so the trees waiting for them are saved in walk order.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from kaikyo.core.format.tree import TreeNode
from kaikyo.snapshot.pool import WorkerPool
from kaikyo.snapshot.tally import Tally
from kaikyo.snapshot.workers import FileResult

if TYPE_CHECKING:
    from kaikyo.snapshot.treebuild import DirRecord

BATCH_FILES = 256
BATCH_BYTES = 16 * 1024 * 1024
# A batch still filling is sent anyway once the walk has gone this many entries past its
# first file: when few files changed, a batch would otherwise fill slowly, and the
# directories waiting for it (and above them) would be held in memory all that time.
BATCH_MAX_AGE = 2048

# A file of a batch: its node, name, path, stat, whether it was in the old files cache, where
# its new cache record goes, and its directory (None for a file given as a backup path).
PendingFile = tuple[TreeNode, bytes, bytes, os.stat_result, bool, list[bytes], "DirRecord | None"]


class Batch:
    __slots__ = ("batch_id", "bytes", "files", "nodes", "opened_at", "submitted", "worker")

    def __init__(self, batch_id: int, worker: int, opened_at: int) -> None:
        self.batch_id = batch_id
        self.worker = worker
        self.opened_at = opened_at  # entries walked when its first file came
        self.files: list[tuple[bytes, int]] = []
        self.nodes: list[PendingFile] = []
        self.bytes = 0
        self.submitted = False


class Batcher:
    """The FIFO of batches between the walk and the readers.

    ``complete`` is called with each batch and its readers' results, in the order the batches
    were made. ``walked`` counts the entries the walk has seen (the walk raises it).
    """

    def __init__(
        self,
        pool: WorkerPool,
        tally: Tally,
        complete: Callable[[Batch, list[FileResult]], None],
    ) -> None:
        self.pool = pool
        self._counts = tally.counts
        self._complete = complete
        self.queue: deque[Batch] = deque()
        self.current: dict[int, Batch] = {}  # the open batch of each reader
        self.next_batch = 0
        self.walked = 0
        self._since_poll = 0

    def add(self, path: bytes, size: int, pending: PendingFile) -> None:
        """Queue one file to be read (its directory already counts it as awaited)."""
        worker = self.pool.route(size)
        batch = self.current.get(worker)
        if batch is None:
            batch = self.current[worker] = Batch(self.next_batch, worker, self.walked)
            self.next_batch += 1
            self.queue.append(batch)
        batch.files.append((path, size))
        batch.nodes.append(pending)
        batch.bytes += size
        if len(batch.files) >= BATCH_FILES or batch.bytes >= BATCH_BYTES:
            self.submit(batch)
        self.pump()

    def submit(self, batch: Batch) -> None:
        self.pool.submit(batch.batch_id, batch.files, batch.worker, self._counts["bytes_total"])
        batch.submitted = True
        if self.current.get(batch.worker) is batch:
            del self.current[batch.worker]

    def pump(self, drain: bool = False) -> None:
        """Complete batches at the front of the queue: those ready, or all if the window is
        full (or ``drain``)."""
        pool = self.pool
        window = 3 * pool.size
        for batch in list(self.current.values()):
            if self.walked - batch.opened_at >= BATCH_MAX_AGE:
                self.submit(batch)
        while self.queue:
            front = self.queue[0]
            must_wait = drain or pool.in_flight() >= window
            if not front.submitted:
                if not must_wait and self.current.get(front.worker) is front:
                    return  # still filling
                self.submit(front)
            if not must_wait:
                # Looking at the pipes costs a syscall per worker: not on every file.
                self._since_poll += 1
                if self._since_poll < 64:
                    return
                self._since_poll = 0
                pool.poll(0)
                if not pool.ready(front.batch_id):
                    return
            self.queue.popleft()
            self._complete(front, pool.result(front.batch_id))
