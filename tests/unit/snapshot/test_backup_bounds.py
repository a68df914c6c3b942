"""What the walk holds in memory: the directories on its path and those waiting for a batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaikyo.repo import Repository
from kaikyo.snapshot.backup import Backup, BackupOptions, NullProgress
from kaikyo.snapshot.batching import Batcher

DIRS, FILES = 30, 40


def _tree(root: Path) -> None:
    for d in range(DIRS):
        sub = root / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(FILES):
            (sub / f"f{f:02}").write_bytes(b"%d/%d " % (d, f) * 50)


def _most_held(
    repo: Repository, src: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, dict[str, int]]:
    """Back up ``src``; the most nodes held at once, and the counts."""
    seen = [0]
    real_pump = Batcher.pump
    opts = BackupOptions(paths=(os.fsencode(src),), time=0.0, cache_file=cache)
    backup = Backup(repo, opts, NullProgress())

    def pump(self: Batcher, drain: bool = False) -> None:
        seen[0] = max(seen[0], backup.held_nodes)
        real_pump(self, drain)

    monkeypatch.setattr(Batcher, "pump", pump)
    result = backup.run(None)
    monkeypatch.undo()
    assert backup.held_nodes == 0  # every directory was saved
    return seen[0], result.summary


@pytest.fixture
def changed_first(
    repository: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Repository, Path, Path]:
    """A tree backed up once (files cache saved), then its first file in walk order changed:
    the next backup has one batch, at the front, which never fills."""
    src = tmp_path / "src"
    _tree(src)
    cache = tmp_path / "cache" / "files"
    _, counts = _most_held(repository, src, cache, monkeypatch)
    assert counts["files_new"] == DIRS * FILES
    repository.load_index()
    first = src / "d00" / "f00"
    first.write_bytes(first.read_bytes() + b"!")
    return repository, src, cache


def test_changed_file_first_does_not_hold_the_whole_tree(
    changed_first: tuple[Repository, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, src, cache = changed_first
    held, counts = _most_held(repo, src, cache, monkeypatch)
    # d00 waits for its batch; every directory after it is saved as the walk leaves it.
    assert held <= 2 * FILES + DIRS + 1, held
    assert counts["files_changed"] == 1
    assert counts["files_unmodified"] == DIRS * FILES - 1


def test_a_slowly_filling_batch_is_sent_before_the_walk_ends(
    changed_first: tuple[Repository, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaikyo.snapshot import batching

    repo, src, cache = changed_first
    sent_at: list[int] = []
    real_submit = Batcher.submit

    def submit(self: Batcher, batch: batching.Batch) -> None:
        sent_at.append(self.walked)
        real_submit(self, batch)

    monkeypatch.setattr(batching, "BATCH_MAX_AGE", 100)
    monkeypatch.setattr(Batcher, "submit", submit)
    opts = BackupOptions(paths=(os.fsencode(src),), time=0.0, cache_file=cache)
    Backup(repo, opts, NullProgress()).run(None)
    assert sent_at and sent_at[0] <= 100 + FILES + 1 < DIRS * FILES, sent_at
