"""Times people read are local with their zone (``--utc`` switches), and tables written to a
pipe are plain aligned text, whole, that grep and awk can read."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from rich.cells import cell_len

from .conftest import Kaikyo
from .test_errors import assert_error

STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@pytest.fixture
def saved(local_kaikyo: Kaikyo, tmp_path: Path) -> Kaikyo:
    src = tmp_path / "データ"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    os.utime(src / "a.txt", (1_309_478_400, 1_309_478_400))  # 2011-07-01 00:00:00 UTC
    long = tmp_path / ("very-long-directory-name-" * 6)
    long.mkdir()
    local_kaikyo("backup", src, long, "--tag", "夜間")
    return local_kaikyo


def test_snapshots_in_a_pipe_are_plain_whole_and_in_the_zone_of_tz(saved: Kaikyo) -> None:
    out = saved("snapshots", env={"TZ": "Asia/Tokyo"}).out
    assert "┃" not in out and "│" not in out and "…" not in out
    header, first, second, *_ = out.splitlines()
    assert header.split() == ["ID", "Time", "Host", "Tags", "Paths", "Size"]
    assert first.split()[3] == "JST" and "夜間" in first
    both = first + second  # the two paths, whole, one below the other
    assert "データ" in both and ("very-long-directory-name-" * 6) in both
    # Columns line up, East Asian characters counted two cells wide: the paths start where
    # the header says, on the row with the tag and on the line below it.
    column = header.index("Paths")
    assert cell_len(first[: first.index("/")]) == column
    assert cell_len(second[: second.index("/")]) == column


def test_utc_switches_every_time(saved: Kaikyo) -> None:
    snaps = saved("snapshots", "--utc", env={"TZ": "Asia/Seoul"}).out
    assert " UTC " in snaps.splitlines()[1]
    keys = saved("key", "list", env={"TZ": "Asia/Seoul"}).out
    assert " KST " in keys and STAMP.search(keys)
    assert " UTC " in saved("key", "list", env={"KAIKYO_UTC": "1"}).out


def test_ls_long_shows_the_mtime(saved: Kaikyo, tmp_path: Path) -> None:
    out = saved("ls", "-l", "latest", "--utc").out
    [line] = [ln for ln in out.splitlines() if ln.endswith("/a.txt")]
    assert "2011-07-01 00:00:00 UTC" in line
    tokyo = saved("ls", "-l", "latest", env={"TZ": "Asia/Tokyo"}).out
    assert "2011-07-01 09:00:00 JST" in tokyo


def test_an_unknown_time_zone_is_one_line(saved: Kaikyo) -> None:
    run = saved("snapshots", env={"TZ": "Nowhere/Atlantis"}, expect=None)
    assert_error(run, 64, "not a time zone")
