"""backup --json streams restic's status lines: at least once a second while it runs, once
at its end, with every byte counted and the totals of the scan beside it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kaikyo.cli.progress import BackupMeter

from .conftest import Kaikyo


def test_status_lines_once_a_second_and_at_the_end(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):  # zstd 19 on incompressible data: slow on purpose, a few seconds
        (src / f"f{i}").write_bytes(os.urandom(3 << 20))
    for i in range(300):
        (src / "small" / str(i // 100)).mkdir(parents=True, exist_ok=True)
        (src / "small" / str(i // 100) / f"s{i}").write_bytes(os.urandom(100))
    started = time.monotonic()
    run = local_kaikyo("backup", src, "--json", "--compression", "max", env={"KAIKYO_WORKERS": "1"})
    elapsed = time.monotonic() - started
    status = run.messages("status")
    assert run.messages()[-1]["message_type"] == "summary"
    assert len(status) >= max(1, int(elapsed) - 1), (elapsed, len(status))
    last = status[-1]
    total = 4 * (3 << 20) + 300 * 100
    assert last["files_done"] == last["total_files"] == 304
    assert last["bytes_done"] == last["total_bytes"] == total  # every byte counted
    assert last["percent_done"] == 1.0
    seconds = [s["seconds_elapsed"] for s in status]
    assert seconds == sorted(seconds)


def test_the_meter_counts_every_byte() -> None:
    """The bar once added a file's size only when it redrew (every 64 files): a 288.7 MB
    backup ended showing 44.9 MB."""
    meter = BackupMeter()
    for _ in range(1000):
        meter.file_done(1000)
    assert (meter.files, meter.bytes) == (1000, 1_000_000)
    assert "percent_done" not in meter.status()  # no scan: no total, no guess
