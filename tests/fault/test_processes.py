"""No process outlives its command; interrupted work resumes (issue 10, part D).

Real ``kaikyo`` processes: a backup killed with SIGKILL or stopped with SIGTERM leaves no
worker behind; SIGTERM is handled like Ctrl-C (one line, exit 143, the next run resumes); a
restore killed half-way resumes when run again; an unreachable haven is said at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaikyo.testing.cli import last_doc
from kaikyo.testing.compare import assert_trees_equal
from kaikyo.testing.haven import HavenProcess, free_port
from kaikyo.testing.processes import alive, children, gone_within
from kaikyo.testing.trees import rand_bytes

pytestmark = pytest.mark.slow

KAIKYO = str(Path(sys.executable).parent / "kaikyo")
MIB = 1024 * 1024


@pytest.fixture
def lab(tmp_path: Path) -> dict[str, str]:
    import random

    rng = random.Random(7)
    src = tmp_path / "src"
    for i in range(6):
        (src / f"d{i}").mkdir(parents=True)
        for j in range(30):
            (src / f"d{i}" / f"f{j}").write_bytes(rand_bytes(rng, 300 * 1024))
    env = {
        **os.environ,
        "KAIKYO_REPOSITORY": str(tmp_path / "repo"),
        "KAIKYO_PASSWORD": "pw",
        "KAIKYO_CACHE_DIR": str(tmp_path / "cache"),
        "KAIKYO_WORKERS": "3",
        "SRC": str(src),
    }
    subprocess.run([KAIKYO, "init"], env=env, check=True, capture_output=True)
    return env


def wait_for_workers(proc: subprocess.Popen[bytes], n: int) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kids = children(proc.pid)
        if len(kids) >= n:
            return kids
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    raise AssertionError(f"no {n} workers appeared (exit {proc.poll()})")


def slow_backup(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # An upload limit keeps the backup running long enough to be caught with its workers:
    # 54 MB at 1 MB/s, so even a loaded machine (coverage, CI) forks both workers well
    # before the end.
    return subprocess.Popen(
        [KAIKYO, "backup", env["SRC"], "--limit-upload", "*=1M"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_worker_outlives_its_backup(lab: dict[str, str], sig: int) -> None:
    proc = slow_backup(lab)
    workers = wait_for_workers(proc, 2)
    assert proc.poll() is None, "the backup ended before it could be stopped: slow it down"
    os.kill(proc.pid, sig)  # the parent only, as `kill`, systemd or `timeout` would
    _, err = proc.communicate(timeout=60)
    assert gone_within(workers, 10), [p for p in workers if alive(p)]
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        lines = err.decode().strip().splitlines()
        assert lines[-1].startswith("kaikyo: terminated (SIGTERM); finished work is kept")
        assert "Traceback" not in err.decode()
    else:
        assert proc.returncode == -signal.SIGKILL
    # The next run completes (adopting what the stopped one stored) and nothing is damaged.
    done = subprocess.run(
        [KAIKYO, "backup", lab["SRC"], "--json"], env=lab, check=True, capture_output=True
    )
    assert json.loads(done.stdout.splitlines()[-1])["snapshot_id"]  # after status lines
    subprocess.run([KAIKYO, "check"], env=lab, check=True, capture_output=True)


def test_an_interrupted_restore_resumes(lab: dict[str, str], tmp_path: Path) -> None:
    subprocess.run([KAIKYO, "backup", lab["SRC"]], env=lab, check=True, capture_output=True)
    target = tmp_path / "out"
    argv = [KAIKYO, "restore", f"latest:{lab['SRC']}", "--target", str(target)]
    env = {**lab, "KAIKYO_WORKERS": "1"}
    for _ in range(40):  # kill it once some, not all, files are there
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            if target.exists() and sum(1 for _ in target.rglob("f*")) >= 20:
                break
            time.sleep(0.002)
        proc.kill()
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            break
        subprocess.run(["rm", "-rf", str(target)], check=True)
    else:
        pytest.fail("the restore always finished before it could be killed")
    again = subprocess.run([*argv, "--json"], env=env, capture_output=True, check=False)
    assert again.returncode == 0, again.stderr.decode()
    doc = last_doc(again.stdout)
    assert doc["resumed"] is True and doc["files_kept"] >= 1
    assert_trees_equal(Path(lab["SRC"]), target)
    assert not (target / ".kaikyo-restore-in-progress").exists()


def test_an_interrupted_restore_onto_an_existing_tree_resumes(
    lab: dict[str, str], tmp_path: Path
) -> None:
    """Killed while it updates files in place and deletes what the snapshot lacks, the same
    restore run again makes the target the snapshot."""
    import random

    subprocess.run([KAIKYO, "backup", lab["SRC"]], env=lab, check=True, capture_output=True)
    target = tmp_path / "out"
    ref = f"latest:{lab['SRC']}"
    env = {**lab, "KAIKYO_WORKERS": "1"}
    subprocess.run([KAIKYO, "restore", ref, "--target", str(target)], env=env, check=True)
    argv = [KAIKYO, "restore", ref, "--target", str(target), "--overwrite", "--delete"]
    rng = random.Random(3)
    for attempt in range(40):
        for f in sorted(target.rglob("f*")):  # every file differs in its first block
            with open(f, "r+b") as fh:
                fh.write(rand_bytes(rng, 1000))
        (target / f"extra-{attempt}").write_bytes(b"not in the snapshot")
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        marker = target / ".kaikyo-restore-in-progress"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None and not marker.exists():
            time.sleep(0.001)
        time.sleep(rng.random() * 0.05)
        proc.kill()
        proc.wait()
        if proc.returncode == -signal.SIGKILL and marker.exists():
            break
    else:
        pytest.fail("the restore always finished before it could be killed")
    again = subprocess.run([*argv, "--json"], env=env, capture_output=True, check=False)
    assert again.returncode == 0, again.stderr.decode()
    assert last_doc(again.stdout)["resumed"] is True
    assert_trees_equal(Path(lab["SRC"]), target)


@pytest.fixture
def haven(tmp_path: Path) -> Iterator[tuple[HavenProcess, str]]:
    proc = HavenProcess(tmp_path / "haven", port=free_port())
    proc.tenant("t")
    token = proc.token("t", "admin")
    proc.start()
    yield proc, token
    proc.stop()


def test_an_outage_is_said_at_once_and_counted(
    haven: tuple[HavenProcess, str], tmp_path: Path
) -> None:
    proc, token = haven
    env = {
        **os.environ,
        "KAIKYO_REPOSITORY": proc.url("t", "r"),
        "KAIKYO_TOKEN": token,
        "KAIKYO_PASSWORD": "pw",
        "KAIKYO_CACHE_DIR": str(tmp_path / "cache"),
    }
    subprocess.run([KAIKYO, "init"], env=env, check=True, capture_output=True)
    proc.stop()
    check = subprocess.Popen(
        [KAIKYO, "check", "--json", "--retry-limit", "60s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert check.stderr is not None
    first = check.stderr.readline().decode()  # printed at once, while the haven is down
    assert "retrying for up to 60 s" in first and "KAIKYO_RETRY_LIMIT" in first, first
    proc.start()
    out, err = check.communicate(timeout=120)
    assert check.returncode == 0, err.decode()
    assert "reachable again" in err.decode()
    assert last_doc(out)["retries"]["outages"] == 1


def test_the_retry_limit_is_kept(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KAIKYO_REPOSITORY": f"http://127.0.0.1:{free_port()}/t/r",
        "KAIKYO_TOKEN": "kk_0000000000000000_" + "A" * 43,
        "KAIKYO_PASSWORD": "pw",
        "KAIKYO_CACHE_DIR": str(tmp_path / "cache"),
        "KAIKYO_RETRY_LIMIT": "3s",
    }
    started = time.monotonic()
    run = subprocess.run(
        [KAIKYO, "snapshots"], env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 18
    assert time.monotonic() - started < 20
    assert "retrying for up to 3 s" in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("kaikyo: error: haven unreachable")
