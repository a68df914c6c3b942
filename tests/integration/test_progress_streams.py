"""restore, check, prune and copy report as they go: restic's status lines once a second
with --json, a bar on a terminal. The work is slowed with --limit-download (a real token
bucket on the store) so that it lasts a few seconds and the lines can be seen to stream."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kaikyo.testing.cli import KAIKYO

from .conftest import Kaikyo

DATA = 6 * 1024 * 1024
RATE = "2M"  # KiB/s grammar: 2 MiB/s, so about three seconds of reading


@pytest.fixture
def filled(local_kaikyo: Kaikyo, tmp_path: Path) -> tuple[Kaikyo, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big").write_bytes(os.urandom(DATA))
    for i in range(20):
        (src / f"small-{i}").write_bytes(os.urandom(1000))
    local_kaikyo("backup", src)
    return local_kaikyo, src


def _streamed(status: list[Any], unit: str, total_key: str) -> None:
    """Lines about a second apart, counts that only grow, the last complete."""
    assert len(status) >= 3, status
    ticks = [s["seconds_elapsed"] for s in status[:-1]]  # the last line comes at the end
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert all(0.8 < g < 2.5 for g in gaps), gaps
    counts = [s.get(unit, 0) for s in status]
    assert counts == sorted(counts) and counts[0] < status[-1][total_key]
    assert counts[-1] == status[-1][total_key] and status[-1]["percent_done"] == 1
    assert any(0 < s.get("percent_done", 0) < 1 and "seconds_remaining" in s for s in status)


def test_restore_streams_status_while_it_writes(
    filled: tuple[Kaikyo, Path], tmp_path: Path
) -> None:
    k, _ = filled
    run = k("restore", "latest", "-t", tmp_path / "out", "--limit-download", RATE, "--json")
    status = [s for s in run.messages("status") if s["action"] == "restoring"]
    _streamed(status, "bytes_restored", "total_bytes")
    assert status[-1]["files_restored"] == status[-1]["total_files"] == 21
    assert run.json()["bytes_written"] == status[-1]["bytes_restored"]


def test_check_streams_status_while_it_reads_packs(filled: tuple[Kaikyo, Path]) -> None:
    k, _ = filled
    run = k("check", "--read-data", "--limit-download", RATE, "--json")
    reading = [s for s in run.messages("status") if s["action"] == "reading packs"]
    last = run.messages("status")[-1]
    assert last["action"] == "checking snapshots" and last["snapshots_done"] == 1
    # The last line of the reading phase is a check snapshot's, not a complete one: add it.
    assert reading and reading[-1]["packs_done"] <= reading[-1]["total_packs"]
    counts = [s["bytes_done"] for s in reading]
    assert counts == sorted(counts) and len(reading) >= 2
    assert run.json()["packs_read"] == reading[-1]["total_packs"]


def test_prune_reports_its_phases(filled: tuple[Kaikyo, Path]) -> None:
    k, src = filled
    (src / "big").write_bytes(os.urandom(DATA))
    k("backup", src)
    k("forget", "--keep-last", "1")
    run = k("prune", "--json")
    last = run.messages("status")[-1]
    assert last["action"] == "deleting"
    assert (
        last["packs_done"]
        == last["total_packs"]
        == run.json()["packs_deleted"]
        + run.json()["packs_repacked"]
        + run.json()["garbage_packs_deleted"]
    )


def test_copy_streams_status_beside_its_snapshot_lines(
    filled: tuple[Kaikyo, Path], tmp_path: Path
) -> None:
    k, _ = filled
    dest = Kaikyo(tmp_path / "dest", tmp_path / "cache2").init()
    env = {"KAIKYO_FROM_PASSWORD": k.env["KAIKYO_PASSWORD"]}
    run = dest("copy", "--from-repo", k.env["KAIKYO_REPOSITORY"], "--json", env=env)
    kinds = [m["message_type"] for m in run.messages()]
    assert kinds[-2:] == ["status", "summary"] and "snapshot" in kinds
    last = run.messages("status")[-1]
    assert last["snapshots_done"] == last["total_snapshots"] == 1
    assert last["bytes_done"] == run.json()["bytes_read"] > DATA


def test_a_terminal_sees_a_bar_and_a_pipe_does_not(
    filled: tuple[Kaikyo, Path], tmp_path: Path
) -> None:
    k, _ = filled
    env = {**os.environ, **k.env}
    argv = [*KAIKYO, "restore", "latest", "-t", str(tmp_path / "tty"), "--limit-download", RATE]
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process closed its end
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    text = screen.decode(errors="replace")
    assert "restoring" in text and "%" in text and "MiB" in text and "/21 files" in text
    assert b"restored snapshot" in out and b"restoring" not in out
    piped = k("restore", "latest", "-t", tmp_path / "piped")
    assert "restoring" not in piped.err and "\x1b" not in piped.err


def test_a_stdin_backup_counts_the_bytes_of_the_stream_as_they_are_read(
    local_kaikyo: Kaikyo,
) -> None:
    """The command gives 24 MiB at once and then waits: a status line while it waits already
    counts most of those bytes, before the one file is done."""
    script = "head -c 25165824 /dev/urandom; sleep 2.5"
    run = local_kaikyo("backup", "--json", "--stdin-from-command", "--", "sh", "-c", script)
    status = run.messages("status")
    waiting = [s for s in status if s["files_done"] == 0 and s["seconds_elapsed"] > 1.5]
    assert waiting and waiting[-1]["bytes_done"] >= 12 * 1024 * 1024, status
    assert status[-1]["files_done"] == 1 and status[-1]["bytes_done"] == 25165824
