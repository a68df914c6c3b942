from __future__ import annotations

import errno
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from kaikyo.repo import RawPack, Repository, pack_name
from kaikyo.snapshot.pool import MAIN, WorkerPool, choose_worker


def _pool(
    repo: Repository, readers: int, packs: list[bytes] | None = None, inline: bool = False
) -> WorkerPool:
    """A pool whose finished packs' ids go to ``packs``."""

    def on_pack(finished: RawPack) -> None:
        if packs is not None:
            packs.append(finished[0])

    return WorkerPool(repo, readers, dry_run=False, max_in_flight=1, on_pack=on_pack, inline=inline)


def test_same_size_same_worker_while_balanced() -> None:
    assert choose_worker(4096, [0, 0]) == choose_worker(4096, [1, 0]) == 0
    assert choose_worker(4097, [0, 1]) == 1


def test_a_backed_up_worker_gives_way() -> None:
    # All files of one size would otherwise load a single worker.
    assert choose_worker(4096, [2, 0]) == 1
    assert choose_worker(4096, [3, 2, 0]) == 2


def test_workers_are_forked_at_the_first_batch_only(repository: Repository, tmp_path: Path) -> None:
    """An all-unchanged backup submits no batch and so forks no worker."""
    packs: list[bytes] = []
    pool = _pool(repository, 2, packs)
    pool.finish()  # nothing submitted: nothing forked, nothing to flush
    assert multiprocessing.active_children() == [] and pool.stats == []
    pool = _pool(repository, 2, packs)
    f = tmp_path / "f"
    f.write_bytes(b"some data" * 1000)
    pool.submit(0, [(os.fsencode(f), 9000)], pool.route(9000))
    assert len(multiprocessing.active_children()) == 1  # one, until it has work waiting
    result = pool.result(0)
    pool.finish()
    assert result[0][1] == 9000 and len(packs) == 1
    assert multiprocessing.active_children() == []


def _files(tmp_path: Path, n: int) -> list[tuple[bytes, int]]:
    files = []
    for i in range(n):
        f = tmp_path / f"f{i}"
        f.write_bytes(os.urandom(1000 + i))
        files.append((os.fsencode(f), 1000 + i))
    return files


class _Held:
    """Files a worker blocks on (FIFOs: opening one waits for a writer), so batches in flight
    stay in flight until :meth:`release`, whatever the timing."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.fifos: list[tuple[Path, bytes]] = []

    def file(self, size: int) -> tuple[bytes, int]:
        path = self.dir / f"held{len(self.fifos)}"
        os.mkfifo(path)
        self.fifos.append((path, os.urandom(size)))
        return os.fsencode(path), size

    def release(self) -> None:
        """Feed each FIFO once its worker opens it (in submission order, as workers do)."""
        for path, data in self.fifos:
            deadline = time.monotonic() + 30
            while True:
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                    break
                except OSError as exc:  # ENXIO: no reader yet
                    if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            try:
                os.set_blocking(fd, True)
                os.write(fd, data)
            finally:
                os.close(fd)


def test_another_worker_is_forked_when_every_worker_has_two_batches_waiting(
    repository: Repository, tmp_path: Path
) -> None:
    pool = _pool(repository, 3)
    held = _Held(tmp_path)
    plain = _files(tmp_path, 1)[0]
    routes, forked_before = [], []
    for batch_id in range(12):
        forked_before.append(pool.forked)
        routes.append(pool.route(1000 + batch_id))
        if routes[-1] == MAIN:
            pool.submit(batch_id, [plain], MAIN)
            break
        pool.submit(batch_id, [held.file(1000 + batch_id)], routes[-1])
    # Nothing completes, so the loads only grow: the second worker is forked when the first
    # has two batches waiting, never a third (3 readers: 2 workers and this process), and
    # once both have two waiting, this process reads the batch itself, at once.
    assert forked_before[:3] == [0, 1, 1] and routes[:2] == [0, 0] and routes[2] == 1
    assert routes[-1] == MAIN and pool.forked == 2 and pool.ready(len(routes) - 1)
    assert all(r != MAIN for r in routes[:-1])
    held.release()
    results = [pool.result(i) for i in range(len(routes))]
    pool.finish()
    assert [r[0][1] for r in results] == [1000 + i for i in range(len(routes) - 1)] + [1000]
    assert multiprocessing.active_children() == []


def test_the_main_process_reads_when_its_one_worker_is_two_batches_behind(
    repository: Repository, tmp_path: Path
) -> None:
    """Two readers are one worker and this process: its batches are read at once, and their
    packs are reported like the worker's."""
    packs: list[bytes] = []
    pool = _pool(repository, 2, packs)
    held = _Held(tmp_path)
    routes = []
    for batch_id, (path, size) in enumerate(_files(tmp_path, 4)):
        routes.append(pool.route(size))
        pool.submit(batch_id, [held.file(size) if routes[-1] != MAIN else (path, size)], routes[-1])
    assert routes == [0, 0, MAIN, MAIN] and pool.forked == 1
    assert pool.ready(2) and pool.ready(3) and not pool.ready(0)
    held.release()
    results = [pool.result(i) for i in range(4)]
    pool.finish()
    assert [r[0][1] for r in results] == [1000, 1001, 1002, 1003]
    assert sum(s["blobs_new"] for s in pool.stats) == 4
    assert len(packs) == 2  # one from the worker, one from this process
    for pack_id in packs:
        assert repository.store.stat(pack_name(pack_id)).size > 0
    assert multiprocessing.active_children() == []


def test_one_reader_is_this_process_alone(repository: Repository, tmp_path: Path) -> None:
    pool = _pool(repository, 1)
    files = _files(tmp_path, 3)
    for batch_id, (path, size) in enumerate(files):
        route = pool.route(size)
        assert route == MAIN
        pool.submit(batch_id, [(path, size)], route)
    assert pool.forked == 0 and multiprocessing.active_children() == []
    results = [pool.result(i) for i in range(3)]
    pool.finish()
    assert [r[0][1] for r in results] == [size for _, size in files]


def test_incremental_batches_are_read_inline_until_the_reading_is_dense(
    repository: Repository, tmp_path: Path
) -> None:
    """With ``inline``, batches are read in this process (no fork) while what was read stays
    within the budget; a batch beyond it forks a worker, and every later batch goes there."""
    from kaikyo.snapshot import pool as pool_module

    packs: list[bytes] = []
    pool = _pool(repository, 2, packs, inline=True)
    small = tmp_path / "small"
    small.write_bytes(os.urandom(100_000))
    big = tmp_path / "big"
    big.write_bytes(os.urandom(pool_module.INLINE_MIN + 1))
    walked = 10 * pool_module.INLINE_MIN  # budget: INLINE_MIN + 1/8 of this, under INLINE_MAX
    pool.submit(0, [(os.fsencode(small), 100_000)], pool.route(100_000), walked)
    assert pool.ready(0) and pool.forked == 0 and multiprocessing.active_children() == []
    pool.submit(1, [(os.fsencode(big), big.stat().st_size)], 0, walked)
    assert pool.ready(1) and pool.forked == 0  # 10/8 of INLINE_MIN walked: still within
    pool.submit(2, [(os.fsencode(small), 100_000)], 0, 0)  # nothing walked: dense, so fork
    assert pool.forked == 1
    results = [pool.result(i) for i in range(3)]
    pool.finish()
    assert [r[0][1] for r in results] == [100_000, big.stat().st_size, 100_000]
    assert results[2][0][0] == results[0][0][0]  # same bytes, same id, inline or in a worker
    assert sum(s["bytes_new"] for s in pool.stats) >= 100_000 + big.stat().st_size
    assert packs and multiprocessing.active_children() == []
    for pack_id in packs:  # the packs written inline are in the store
        assert repository.store.stat(pack_name(pack_id)).size > 0


def test_without_inline_the_first_batch_forks(repository: Repository, tmp_path: Path) -> None:
    pool = _pool(repository, 2)
    f = tmp_path / "f"
    f.write_bytes(b"x" * 1000)
    pool.submit(0, [(os.fsencode(f), 1000)], 0, 10**12)
    assert pool.forked == 1
    pool.result(0)
    pool.finish()


@pytest.mark.timeout(120)
def test_a_worker_aborted_just_after_its_fork_is_stopped(repository: Repository) -> None:
    """The CLI handles SIGTERM in Python. A worker forked a moment ago still has that handler
    until it resets it, and a SIGTERM arriving in between was swallowed: the worker waited on
    its pipe and the backup joined it for ever. abort() must stop a worker at any moment."""
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # as kaikyo.cli.main does
    try:
        for _ in range(40):
            pool = _pool(repository, 2)
            pool._fork_one()
            pool.abort()  # at once: often inside the worker's first instructions
            assert pool.forked == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
