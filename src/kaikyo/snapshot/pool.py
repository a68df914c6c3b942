"""The main process's side of the backup workers (see :mod:`kaikyo.snapshot.workers`).

A pool of ``n`` readers is ``n - 1`` forked workers plus the main process. The main process
reads a batch itself when every worker is two batches behind, between stretches of the walk:
with one worker, the two cores are used as with two workers, for one interpreter fewer (on the
bench tree 125 MiB of resident pages against 140, at the same speed).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from kaikyo.errors import KaikyoError
from kaikyo.repo import RawPack, Repository, remove_spools_of, spool_dir_for
from kaikyo.snapshot.workers import (
    FileChunker,
    FileResult,
    data_chunker,
    process_batch,
    worker_main,
)

# An incremental backup reads its few changed files in the main process, without forking
# (each worker costs tens of MiB and a fork), for as long as what it has read stays under
# 1/INLINE_SHARE of what it has walked, at least INLINE_MIN and at most INLINE_MAX bytes.
INLINE_SHARE = 8
INLINE_MIN = 16 * 1024 * 1024
INLINE_MAX = 256 * 1024 * 1024
MAIN = -1  # :meth:`WorkerPool.route`'s answer for "read this batch in the main process"


class WorkerDied(KaikyoError):
    pass


def choose_worker(size: int, loads: list[int]) -> int:
    """The worker for a file of ``size`` bytes given each worker's batches in flight: by size
    (so identical files meet one dedup set), unless that worker is two batches ahead."""
    preferred = size % len(loads)
    idlest = min(range(len(loads)), key=loads.__getitem__)
    return idlest if loads[preferred] - loads[idlest] >= 2 else preferred


class WorkerPool:
    def __init__(
        self,
        repo: Repository,
        workers: int,
        dry_run: bool,
        max_in_flight: int,
        on_pack: Callable[[RawPack], None],
        inline: bool = False,
    ) -> None:
        """``workers``: readers, this process included. ``inline``: every batch may be read
        in this process (see INLINE_SHARE) until the first worker is forked; for incremental
        backups."""
        self._repo = repo
        self._dry_run = dry_run
        self._max_in_flight = max_in_flight
        self._workers = max(1, workers)
        self._max_forks = self._workers - 1
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self._load: list[int] = []  # batches in flight, per worker forked so far
        self._results: dict[int, list[FileResult]] = {}
        self._on_pack = on_pack
        self.stats: list[dict[str, int]] = []
        self._inline_allowed = inline
        self._inline_bytes = 0
        self._inline: FileChunker | None = None

    def _fork_one(self) -> None:
        """Fork one more worker. The first comes with the first batch (a backup that finds
        every file unchanged in the files cache never pays for one); each next one only when
        every worker has two batches waiting (see :meth:`route`), so a backup with little to
        read, or one big file, runs on one."""
        assert len(self._procs) < self._max_forks
        ctx = multiprocessing.get_context("fork")
        # The objects alive now are shared with the children page by page. A collection walks
        # them and writes their GC headers, which copies every such page: in a child (its
        # first collection) and in the parent (its next full one). Frozen, they are left out
        # of collections on both sides for good; they are long-lived (modules, the index,
        # the repository), and what they free by reference counting is freed all the same.
        gc.freeze()
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=worker_main,
            args=(
                self._repo,
                child,
                self._dry_run,
                self._max_in_flight,
                [*self._conns, parent],
                os.getpid(),
            ),
            daemon=True,
            name="kaikyo-worker",
        )
        proc.start()
        child.close()
        self._conns.append(parent)
        self._procs.append(proc)
        self._load.append(0)

    @property
    def size(self) -> int:
        return self._workers

    def in_flight(self) -> int:
        return sum(self._load)

    @property
    def forked(self) -> int:
        return len(self._procs)

    def route(self, size: int) -> int:
        """The worker for a file of ``size`` bytes, or MAIN: when every worker has two
        batches waiting, another is forked, or once all are, this process reads."""
        if self._max_forks == 0:
            return MAIN
        if not self._load:
            return 0  # the first worker is forked by the first submit
        if min(self._load) >= 2:
            self.poll(0)  # a batch done but not collected yet is no reason to fork
            if min(self._load) >= 2:
                if len(self._load) == self._max_forks:
                    return MAIN
                self._fork_one()
        return choose_worker(size, self._load)

    def submit(
        self, batch_id: int, files: list[tuple[bytes, int]], worker: int, walked_bytes: int = 0
    ) -> None:
        """Hand a batch to ``worker``, or read it here (MAIN, or see INLINE_SHARE):
        ``walked_bytes`` is the size of all the files the walk has seen so far."""
        if worker == MAIN or self._max_forks == 0:
            self._results[batch_id] = process_batch(
                self._inline_saver(), files, self._poll_now if self._conns else None
            )
            return
        if not self._conns:
            nbytes = self._inline_bytes + sum(size for _, size in files)
            budget = min(INLINE_MAX, max(INLINE_MIN, walked_bytes // INLINE_SHARE))
            if self._inline_allowed and nbytes <= budget:
                self._inline_bytes = nbytes
                self._results[batch_id] = process_batch(self._inline_saver(), files)
                return
            self._inline_allowed = False  # from now on, the workers
            self._fork_one()
        w = worker % len(self._conns)
        self._conns[w].send(("batch", batch_id, files))
        self._load[w] += 1

    def _handle(self, w: int, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "batch":
            self._results[msg[1]] = msg[2]
            self._load[w] -= 1
        elif kind == "pack":
            self._on_pack((msg[1], msg[2], msg[3]))
        elif kind == "flushed":
            self.stats.append(msg[1])
        elif kind == "error":
            exc = msg[1]
            raise exc if isinstance(exc, BaseException) else WorkerDied(str(exc))

    def _recv(self, w: int) -> tuple[Any, ...]:
        try:
            msg: tuple[Any, ...] = self._conns[w].recv()
            return msg
        except (EOFError, OSError):
            code = self._procs[w].exitcode
            raise WorkerDied(f"a backup worker process died (exit code {code})") from None

    def poll(self, timeout: float | None) -> None:
        if timeout == 0:
            # The cheap check: Connection.poll is one syscall; wait() builds a selector.
            for w, conn in enumerate(self._conns):
                while conn.poll():
                    self._handle(w, self._recv(w))
            return
        for ready in wait(self._conns, timeout):
            w = self._conns.index(ready)  # type: ignore[arg-type]
            self._handle(w, self._recv(w))

    def _poll_now(self) -> None:
        self.poll(0)

    def ready(self, batch_id: int) -> bool:
        return batch_id in self._results

    def result(self, batch_id: int) -> list[FileResult]:
        while batch_id not in self._results:
            self.poll(None)
        return self._results.pop(batch_id)

    def _inline_saver(self) -> FileChunker:
        if self._inline is None:
            self._inline = data_chunker(
                self._repo, self._on_pack, self._dry_run, self._max_in_flight
            )
        return self._inline

    def _finish_inline(self) -> None:
        if self._inline is None:
            return
        try:
            self.stats.append(self._inline.writer.finish())
        finally:
            self._close_inline()

    def _close_inline(self) -> None:
        if self._inline is not None:
            chunker, self._inline = self._inline, None
            chunker.writer.close()

    def finish(self) -> None:
        """Flush every worker's open pack and wait until all its uploads are durable."""
        self._finish_inline()
        for conn in self._conns:
            conn.send(("flush",))
        for w in range(len(self._conns)):
            while True:
                msg = self._recv(w)
                self._handle(w, msg)
                if msg[0] == "flushed":
                    break
        self.close()

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("exit",))
                conn.close()
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()  # see abort: a SIGTERM could be swallowed
                proc.join()
        self._conns = []
        self._procs = []

    def abort(self) -> None:
        """Stop every worker now (the backup is abandoned: what they hold is not needed).

        SIGKILL, not SIGTERM: a worker forked a moment ago still has this process's Python
        handler for SIGTERM until it resets it, and a SIGTERM that arrives in between is
        swallowed, leaving the worker waiting on its pipe and this process joining it for
        ever (seen once under load). SIGKILL cannot be swallowed."""
        self._close_inline()
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
        for proc in self._procs:
            proc.join()
        if self._procs:
            remove_spools_of(spool_dir_for(self._repo.store), [p.pid for p in self._procs])
        self._conns = []
        self._procs = []
