from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from kaikyo.repo import Repository
from kaikyo.snapshot.pool import WorkerPool, choose_worker
from kaikyo.store.local import LocalStore


def test_same_size_same_worker_while_balanced() -> None:
    assert choose_worker(4096, [0, 0]) == choose_worker(4096, [1, 0]) == 0
    assert choose_worker(4097, [0, 1]) == 1


def test_a_backed_up_worker_gives_way() -> None:
    # All files of one size would otherwise load a single worker.
    assert choose_worker(4096, [2, 0]) == 1
    assert choose_worker(4096, [3, 2, 0]) == 2


def test_workers_are_forked_at_the_first_batch_only(tmp_path: Path) -> None:
    """An all-unchanged backup submits no batch and so forks no worker."""
    store = LocalStore(tmp_path / "repo", create=True)
    repo, _ = Repository.create(store, "pw", kdf_cost=(1, 64))
    repo.load_index()
    packs: list[bytes] = []
    pool = WorkerPool(repo, 2, dry_run=False, max_in_flight=1,
                      on_pack=lambda pack_id, table, count: packs.append(pack_id))
    pool.finish()  # nothing submitted: nothing forked, nothing to flush
    assert multiprocessing.active_children() == [] and pool.stats == []
    pool = WorkerPool(repo, 2, dry_run=False, max_in_flight=1,
                      on_pack=lambda pack_id, table, count: packs.append(pack_id))
    f = tmp_path / "f"
    f.write_bytes(b"some data" * 1000)
    pool.submit(0, [(os.fsencode(f), 9000)], 0)
    assert len(multiprocessing.active_children()) == 2
    result = pool.result(0)
    pool.finish()
    assert result[0][1] == 9000 and len(packs) == 1
    assert multiprocessing.active_children() == []
