"""The bench's memory measures on a process tree whose sharing is known."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from measure import resident_frames, run_measured  # noqa: E402

MiB = 1 << 20

# Touches 64 MiB, forks, and the child and parent both wait: the 64 MiB are resident in both
# (copy on write, never written after the fork), held once by the machine.
SHARED = """
import os, time
buf = bytearray(64 << 20)
buf[::4096] = b"x" * len(buf[::4096])
if os.fork() == 0:
    time.sleep(1.0); os._exit(0)
time.sleep(1.0); os.wait()
"""


def _frames_visible() -> bool:
    return resident_frames(os.getpid()) is not None


@pytest.mark.skipif(not _frames_visible(), reason="page frame numbers need root")
def test_held_memory_counts_a_page_shared_after_fork_once(tmp_path: Path) -> None:
    m = run_measured(
        [sys.executable, "-c", SHARED], env=dict(os.environ), log_prefix=tmp_path / "shared"
    )
    assert m.ok and m.peak_unique is not None
    assert m.peak_rss >= 2 * 64 * MiB  # counted in both processes
    assert 64 * MiB <= m.peak_unique < m.peak_rss - 48 * MiB  # counted once


@pytest.mark.skipif(not _frames_visible(), reason="page frame numbers need root")
def test_held_memory_of_one_process_is_its_rss() -> None:
    frames = resident_frames(os.getpid())
    with open(f"/proc/{os.getpid()}/statm") as fh:
        rss_pages = int(fh.read().split()[1])
    assert frames is not None
    assert abs(len(set(frames.tolist())) - rss_pages) <= rss_pages // 20


def test_a_process_gone_has_no_frames() -> None:
    frames = resident_frames(2**22 + 12345)  # above the default pid_max: never a process
    assert frames is not None and len(frames) == 0
