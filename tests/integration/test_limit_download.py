"""--limit-download / KAIKYO_LIMIT_DOWNLOAD, as restic's (KiB/s): a restore is paced.

2 MiB of incompressible data restored at 1024 KiB/s takes about two seconds (the bucket
lets a quarter of a second through at the start); unlimited, the same restore is quick.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .conftest import Kaikyo
from .test_errors import assert_error

MIB = 2**20


@pytest.fixture
def two_mib(local_kaikyo: Kaikyo, tmp_path: Path) -> str:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(os.urandom(MIB))
    (src / "b").write_bytes(os.urandom(MIB))
    snapshot_id: str = local_kaikyo.backup(src)["snapshot_id"]
    return snapshot_id


def timed_restore(k: Kaikyo, sid: str, target: Path, *flags: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    k("restore", sid, "--target", target, *flags, env=env)
    elapsed = time.monotonic() - started
    restored = [p for p in target.rglob("*") if p.is_file()]
    assert sorted(p.stat().st_size for p in restored) == [MIB, MIB]
    return elapsed


def test_a_restore_keeps_the_download_limit(
    local_kaikyo: Kaikyo, two_mib: str, tmp_path: Path
) -> None:
    free = timed_restore(local_kaikyo, two_mib, tmp_path / "free", env={})
    limited = timed_restore(
        local_kaikyo, two_mib, tmp_path / "limited", "--limit-download", "1024", env={}
    )
    assert limited >= 1.6, limited  # 2 MiB at 1 MiB/s, less the quarter-second burst
    assert limited > free + 1.0, (free, limited)
    by_env = timed_restore(
        local_kaikyo, two_mib, tmp_path / "env", env={"KAIKYO_LIMIT_DOWNLOAD": "2M"}
    )
    assert 0.6 <= by_env < limited, (by_env, limited)  # 2 MiB at 2 MiB/s


def test_zero_is_unlimited_and_a_bad_rate_is_refused(local_kaikyo: Kaikyo, two_mib: str) -> None:
    assert local_kaikyo("snapshots", "--limit-download", "0").code == 0
    run = local_kaikyo("snapshots", "--limit-download", "fast", expect=None)
    assert_error(run, 64, "invalid rate 'fast'", "KiB/s")
