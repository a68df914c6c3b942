"""A client with a wrong clock cannot push real snapshots out of retention through a haven.

The engine's backup runs in-process with a :class:`FakeClock`, so snapshot documents carry
forged times (far in the past, and far in the future), exactly as a misconfigured or hostile
client would write them. Through the haven, ``forget`` judges by the haven's receive times
(``ObjectInfo.mtime`` in listings); against a local repository the same sequence judges by the
forged document times and removes snapshots.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kaikyo.clock import SYSTEM_CLOCK, Clock
from kaikyo.store import StoreOptions
from kaikyo.store.http import HttpStore
from kaikyo.testing.cli import kaikyo as run
from kaikyo.testing.clock import FakeClock
from kaikyo.testing.haven import HavenProcess
from kaikyo.testing.times import unix

DAY = 86400.0
# Clock skews of the client at each backup, in order: far behind, behind, right, far ahead.
SKEWS = [-400 * DAY, -30 * DAY, 0.0, 365 * DAY]


def kaikyo(env: dict[str, str], *argv: str, clock: Clock = SYSTEM_CLOCK) -> Any:
    """Run a command with ``--json``; it must succeed. Returns its (last) JSON line."""
    code, out, err = run(*argv, "--json", env=env, clock=clock)
    assert code == 0, f"kaikyo {' '.join(argv)} exited {code}: {err}"
    return json.loads(out.strip().splitlines()[-1])


def backups_with_skewed_clocks(env: dict[str, str], source: Path) -> list[tuple[str, float]]:
    """init, then one backup per skew; returns (snapshot id, forged time) in backup order."""
    kaikyo(env, "init")
    made = []
    for i, skew in enumerate(SKEWS):
        (source / "n.txt").write_text(f"generation {i}\n")
        forged = time.time() + skew
        summary = kaikyo(env, "backup", str(source), clock=FakeClock(forged))
        made.append((summary["snapshot_id"], forged))
    return made


def test_a_wrong_client_clock_cannot_push_snapshots_out_through_a_haven(
    haven: HavenProcess, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "data.bin").write_bytes(bytes(range(256)) * 4096)
    common = {"KAIKYO_PASSWORD": "correct horse battery staple", "KAIKYO_WORKERS": "2"}
    token = haven.token("acme", "admin")
    remote = {
        **common,
        "KAIKYO_REPOSITORY": haven.url("acme", "skewed"),
        "KAIKYO_TOKEN": token,
        "KAIKYO_CACHE_DIR": str(tmp_path / "cache-h"),
    }
    local = {
        **common,
        "KAIKYO_REPOSITORY": str(tmp_path / "local-repo"),
        "KAIKYO_CACHE_DIR": str(tmp_path / "cache-l"),
    }

    started = time.time()
    on_haven = backups_with_skewed_clocks(remote, source)
    finished = time.time()
    on_local = backups_with_skewed_clocks(local, source)

    # The snapshot documents do carry the forged times...
    listed = {s["id"]: s for s in kaikyo(remote, "snapshots")}
    assert set(listed) == {sid for sid, _ in on_haven}
    for sid, forged in on_haven:
        assert abs(unix(listed[sid]["time"]) - forged) < 1.0
    # ...while the haven's listings carry when it received each one, by its own clock.
    store = HttpStore(haven.url("acme", "skewed"), StoreOptions(token=token))
    try:
        received = {info.name.rsplit("/", 1)[1]: info.mtime for info in store.list("snapshots/")}
        assert set(received) == set(listed)
        for sid, _ in on_haven:
            mtime = received[sid]
            assert mtime is not None and started - 1 <= mtime <= finished + 1, (sid, mtime)
            assert store.stat(f"snapshots/{sid}").mtime == mtime  # HEAD agrees with the list
            assert (
                abs(unix(listed[sid]["received"]) - mtime) < 1e-5
            )  # and the engine sees the same time
        order = [received[sid] or 0.0 for sid, _ in on_haven]
        assert order == sorted(order)  # in the order they really arrived
    finally:
        store.close()

    # Through the haven, every snapshot is within a day of the newest one received: kept.
    decision = kaikyo(remote, "forget", "--keep-within", "1d")
    assert decision["remove"] == []
    assert sorted(decision["keep"]) == sorted(sid for sid, _ in on_haven)
    assert all(decision["reasons"][sid] == ["within"] for sid, _ in on_haven)
    assert len(kaikyo(remote, "snapshots")) == len(SKEWS)

    # The same sequence against a local repository trusts the forged times: the clock that ran
    # a year ahead leaves only its own snapshot, and the real ones are gone.
    decision = kaikyo(local, "forget", "--keep-within", "1d")
    assert decision["keep"] == [on_local[-1][0]]
    assert sorted(decision["remove"]) == sorted(sid for sid, _ in on_local[:-1])
    assert [s["id"] for s in kaikyo(local, "snapshots")] == [on_local[-1][0]]
