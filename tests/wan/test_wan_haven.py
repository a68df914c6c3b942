"""Backup and restore through a haven over an emulated 35 ms RTT, 0.1% loss link, with the
link cut for 10 s in the middle: the backup finishes, and only objects in flight are resent."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from enginecli import run_kaikyo, same_tree
from wanlink import ADDR_B, WanLink, wan_available

from kaikyo.testing.cli import KAIKYO
from kaikyo.testing.haven import HavenProcess

TOTAL = int(os.environ.get("KAIKYO_WAN_TEST_BYTES", str(500 * 1000 * 1000)))
CUT_SECONDS = 10.0
MAX_IN_FLIGHT = 16  # engine workers x uploads in flight per worker, with margin


def make_source(root: Path, total: int) -> Path:
    root.mkdir()
    per_file = 50 * 1000 * 1000
    for i in range((total + per_file - 1) // per_file):
        with open(root / f"part-{i:02d}.bin", "wb") as fh:
            left = min(per_file, total - i * per_file)
            while left:
                n = min(left, 4 << 20)
                fh.write(os.urandom(n))
                left -= n
    return root


def stored_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "objects").rglob("data/*/*"))


@pytest.mark.wan
@pytest.mark.slow
def test_backup_survives_a_cut_link_and_resends_only_what_was_in_flight(tmp_path: Path) -> None:
    reason = wan_available()
    if reason:
        pytest.skip(f"WAN emulation unavailable: {reason}")
    link = WanLink(tmp_path)
    link.up()
    haven = HavenProcess(
        tmp_path / "data", host=ADDR_B, port=8720, extra=("--allow-plain-http",), netns=link.ns_b
    )
    try:
        haven.tenant("acme")
        backup, restore = haven.token("acme", "backup"), haven.token("acme", "restore")
        haven.start()
        url = haven.url("acme", "wan")
        source = make_source(tmp_path / "src", TOTAL)
        run_kaikyo(url, backup, "init", netns=link.ns_a)
        env = {
            **os.environ,
            "KAIKYO_REPOSITORY": url,
            "KAIKYO_TOKEN": backup,
            "KAIKYO_PASSWORD": "correct horse battery staple",
        }
        started = time.monotonic()
        proc = subprocess.Popen(
            link.exec(link.ns_a, *KAIKYO, "backup", str(source), "--json"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while stored_bytes(haven.data) < TOTAL // 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - started < 600
            time.sleep(0.2)
        link.set_link(False)
        time.sleep(CUT_SECONDS)
        link.set_link(True)
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]

        rows = haven.op("tenant", "show", "acme", "--audit-lines", "1000000")["audit_tail"]
        assert isinstance(rows, list)
        puts = [r for r in rows if r["action"] == "put" and r["object"].startswith("data/")]
        stored = {r["object"] for r in puts if r["result"] == "ok"}
        attempts = Counter(r["object"] for r in puts)
        resends = sum(n - 1 for n in attempts.values())
        print(
            f"WAN backup: {len(stored)} packs, {resends} resent, "
            f"{time.monotonic() - started:.1f} s including a {CUT_SECONDS:.0f} s cut"
        )
        assert resends <= MAX_IN_FLIGHT
        assert haven.op("haven", "audit", "verify")["ok"] is True

        run_kaikyo(
            url, restore, "restore", "latest", "--target", str(tmp_path / "out"), netns=link.ns_a
        )
        assert same_tree(source, tmp_path / "out" / source.relative_to("/"))
    finally:
        haven.stop()
        link.down()
