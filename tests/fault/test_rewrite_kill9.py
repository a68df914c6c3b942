"""kill -9 of a real ``kaikyo rewrite --forget`` before each of its store writes.

``KAIKYO_TEST_KILL_AT_WRITE=N`` (see tests/fault/test_kill9.py) SIGKILLs the process just
before its Nth put or delete. A rewrite of two snapshots with --forget writes, in order: its
lock, the pack of new trees, the index file naming it, then for each snapshot the new
manifest and the removal of the old one, and last the lock's removal. After a kill at any of
them ``check`` passes (a pack in no index is a warning), and a rerun finishes the job: each
old snapshot replaced by exactly one new one, without the excluded files, restoring the rest
byte for byte. A kill between a new manifest and the old one's removal leaves both; the rerun
finds the new one saved and does not save a second.

Fast (a cheap KDF, a small tree: about 0.3 s a point), so not marked slow.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kaikyo.store.local import LocalStore
from kaikyo.testing.cli import kaikyo
from kaikyo.testing.compare import Entry, compare_scans, scan
from kaikyo.testing.repos import new_repository

PASSWORD = "fault injection"
KAIKYO = str(Path(sys.executable).parent / "kaikyo")
SECRET = "秘密"
WRITES = 8  # lock, tree pack, index, (manifest, removal) x 2, lock removal


class Prepared:
    """A repository with two snapshots of a tree holding a secret directory, made once."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.src = base / "src"
        for rel, data in (
            ("keep/a", os.urandom(50_000)),
            (f"docs/{SECRET}/鍵.pem", b"key" * 100),
            ("docs/報告書.txt", "海峡\n".encode()),
        ):
            (self.src / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.src / rel).write_bytes(data)
        new_repository(LocalStore(base / "repo", create=True), PASSWORD, kdf_cost=(1, 8 * 1024))
        self.states: dict[str, dict[bytes, Entry]] = {}
        for change in (b"one", b"two"):
            (self.src / "keep" / "b").write_bytes(change)
            sid = cli(self.env(base / "repo"), "backup", "--json", self.src)["snapshot_id"]
            self.states[sid] = scan(self.src)

    def env(self, repo: Path) -> dict[str, str]:
        return {
            "KAIKYO_REPOSITORY": str(repo),
            "KAIKYO_PASSWORD": PASSWORD,
            "KAIKYO_CACHE_DIR": str(repo.parent / "cache"),
        }


def cli(env: dict[str, str], *argv: str | os.PathLike[str]) -> Any:
    run = kaikyo(*argv, env=env)
    assert run.code == 0, f"kaikyo {argv} exited {run.code}: {run.err}"
    return run.json() if "--json" in argv else run


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    return Prepared(tmp_path_factory.mktemp("rewrite-kill9"))


def _expected(state: dict[bytes, Entry], src: Path) -> dict[bytes, Entry]:
    """What a restore of ``src`` from the rewritten snapshot holds: all but the secret."""
    cut = b"/docs/" + SECRET.encode()
    return {r: e for r, e in state.items() if not (r == cut or r.startswith(cut + b"/"))}


@pytest.mark.parametrize("kill_at", range(1, WRITES + 2))
def test_kill9_rewrite_then_rerun(prepared: Prepared, tmp_path: Path, kill_at: int) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(prepared.base / "repo", repo)
    env = prepared.env(repo)
    argv = ["rewrite", "--forget", "--exclude", SECRET]
    proc = subprocess.run(
        [KAIKYO, *argv],
        env={**os.environ, **env, "KAIKYO_TEST_KILL_AT_WRITE": str(kill_at)},
        start_new_session=True,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if kill_at <= WRITES:
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    else:
        assert proc.returncode == 0, proc.stderr.decode()  # it had no more writes to make

    checked = cli(env, "check", "--json")
    assert checked["ok"], checked["findings"]
    assert {f["kind"] for f in checked["findings"]} <= {"unindexed-pack"}

    cli(env, *argv)  # the rerun completes the job
    final = {s["id"]: s for s in cli(env, "snapshots", "--json")}
    assert sorted(s["original"] for s in final.values()) == sorted(prepared.states)
    for sid, doc in final.items():
        out = tmp_path / sid
        cli(env, "restore", f"{sid}:{prepared.src}", "--target", out)
        expected = _expected(prepared.states[doc["original"]], prepared.src)
        assert compare_scans(expected, scan(out)) == []
    checked = cli(env, "check", "--json")
    assert checked["ok"] and checked["findings"] == [], checked["findings"]
    again = cli(env, *argv, "--json")
    assert again["rewritten"] == [] and sorted(again["unchanged"]) == sorted(final)
