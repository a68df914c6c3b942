from __future__ import annotations

from kaikyo.snapshot.pool import choose_worker


def test_same_size_same_worker_while_balanced() -> None:
    assert choose_worker(4096, [0, 0]) == choose_worker(4096, [1, 0]) == 0
    assert choose_worker(4097, [0, 1]) == 1


def test_a_backed_up_worker_gives_way() -> None:
    # All files of one size would otherwise load a single worker.
    assert choose_worker(4096, [2, 0]) == 1
    assert choose_worker(4096, [3, 2, 0]) == 2
