"""The scan beside a backup counts what the backup will see: files and bytes below the
paths, without what the excludes match, never through a symlink."""

from __future__ import annotations

import os
from pathlib import Path

from kaikyo.snapshot.filters import ExcludeMatcher
from kaikyo.snapshot.scan import Scanner


def _scan(paths: list[Path], excludes: tuple[str, ...] = (), **kw: object) -> Scanner:
    s = Scanner([os.fsencode(p) for p in paths], ExcludeMatcher(excludes), **kw)  # type: ignore[arg-type]
    s.start()
    s.join(10)
    assert s.finished.is_set()
    return s


def test_counts_files_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "x").write_bytes(b"1" * 10)
    (tmp_path / "a" / "b" / "日本語").write_bytes(b"2" * 20)
    (tmp_path / "a" / "b" / "skip.tmp").write_bytes(b"3" * 40)
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # not followed
    os.mkfifo(tmp_path / "a" / "fifo")  # not a file
    s = _scan([tmp_path / "a"])
    assert (s.files, s.bytes) == (3, 70)
    s = _scan([tmp_path / "a"], ("*.tmp",))
    assert (s.files, s.bytes) == (2, 30)
    s = _scan([tmp_path / "a" / "x", tmp_path / "missing"])
    assert (s.files, s.bytes) == (1, 10)
    s = _scan([tmp_path / "a"], max_file_size=15)
    assert (s.files, s.bytes) == (1, 10)


def test_a_stopped_scan_ends(tmp_path: Path) -> None:
    for i in range(200):
        (tmp_path / f"d{i}").mkdir()
    s = Scanner([os.fsencode(tmp_path)], ExcludeMatcher(()))
    s.stop()
    s.start()
    s.join(10)
    assert s.finished.is_set() and s.files == 0
