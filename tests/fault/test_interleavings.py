"""Random interleavings of backups, forgets, prunes, replays and kill -9s (issue 10).

A hypothesis state machine drives real ``kaikyo`` processes against one local repository:
backups of a changing tree, forgets, prunes, any of them SIGKILLed at a chosen store write
(``KAIKYO_TEST_KILL_AT_WRITE``), and replays of any object the repository once held and no
longer does (an old index, a forgotten snapshot, a pruned pack, a released lock, a removed
key slot), put back as anyone with file access could. After every step:

- ``check`` never fails with a traceback;
- every snapshot ``check`` calls valid restores byte-exactly to the tree it was made of;
- no snapshot that is still listed and was valid stops being valid: a prune never deletes
  the last copy of a blob a snapshot references, whatever was replayed before it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from kaikyo.store.local import LocalStore
from kaikyo.testing.cli import kaikyo, last_doc
from kaikyo.testing.compare import assert_trees_equal
from kaikyo.testing.repos import new_repository

pytestmark = pytest.mark.slow

PASSWORD = "interleavings"
KAIKYO = str(Path(sys.executable).parent / "kaikyo")
KIB = 1024


def _objects(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".tmp" not in p.parts
    }


class Interleavings(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(os.environ["KAIKYO_INTERLEAVINGS_DIR"]) / f"run{id(self)}"
        self.repo = self.base / "repo"
        self.src = self.base / "src"
        self.env = {
            "KAIKYO_REPOSITORY": str(self.repo),
            "KAIKYO_PASSWORD": PASSWORD,
            "KAIKYO_CACHE_DIR": str(self.base / "cache"),
            "KAIKYO_WORKERS": "2",
        }
        # What each snapshot we made holds: (copy of the source tree).
        self.made: dict[str, Path] = {}
        self.valid: set[str] = set()  # valid at the last check and still listed
        self.history: dict[str, bytes] = {}
        self.rng = random.Random(1)
        self.kills = 0
        self.replays = 0

    @initialize()
    def setup(self) -> None:
        self.base.mkdir(parents=True)
        (self.src / "d").mkdir(parents=True)
        new_repository(
            LocalStore(self.repo, create=True), PASSWORD, pack_size=96 * KIB, kdf_cost=(1, 8 * 1024)
        )
        for i in range(6):
            (self.src / "d" / f"f{i}").write_bytes(
                self.rng.randbytes(self.rng.randint(1, 60) * KIB)
            )
        self._remember()

    # ---- running kaikyo -----------------------------------------------------------------

    def cli(self, *argv: str) -> tuple[int, str, str]:
        run = kaikyo(*argv, env=self.env)
        assert "Traceback" not in run.err, run.err
        return run

    def spawn(self, argv: list[str], kill_at: int | None) -> int:
        env = {**os.environ, **self.env}
        if kill_at is not None:
            env["KAIKYO_TEST_KILL_AT_WRITE"] = str(kill_at)
        proc = subprocess.run(
            [KAIKYO, *argv],
            env=env,
            capture_output=True,
            start_new_session=True,
            timeout=120,
            check=False,
        )
        assert b"Traceback" not in proc.stderr, proc.stderr.decode()
        if proc.returncode == -signal.SIGKILL:
            self.kills += 1
        self._remember()
        return proc.returncode

    def _remember(self) -> None:
        self.history.update(_objects(self.repo))

    def listed(self) -> set[str]:
        code, out, _ = self.cli("snapshots", "--json")
        assert code == 0
        return {s["id"] for s in json.loads(out)}

    # ---- rules ----------------------------------------------------------------------------

    @rule(change=st.integers(0, 5), size=st.integers(0, 80), kill_at=st.none() | st.integers(1, 12))
    def backup(self, change: int, size: int, kill_at: int | None) -> None:
        target = self.src / "d" / f"f{change}"
        if size == 0 and target.exists():
            target.unlink()
        else:
            target.write_bytes(self.rng.randbytes(size * KIB + 1))
        before = self.listed()
        code = self.spawn(["backup", str(self.src)], kill_at)
        assert code in (0, -signal.SIGKILL), code
        for sid in self.listed() - before:  # saved (even if the kill came just after)
            copy = self.base / "made" / sid
            shutil.copytree(self.src, copy)
            self.made[sid] = copy

    @precondition(lambda self: len(self.made) >= 2)
    @rule(pick=st.integers(0, 1000), kill_at=st.none() | st.integers(1, 4))
    def forget(self, pick: int, kill_at: int | None) -> None:
        listed = sorted(self.listed())
        if len(listed) < 2:
            return
        code = self.spawn(["forget", listed[pick % len(listed)]], kill_at)
        assert code in (0, -signal.SIGKILL), code

    @precondition(lambda self: len(self.made) >= 2)
    @rule(kill_at=st.none() | st.integers(1, 16))
    def prune(self, kill_at: int | None) -> None:
        code = self.spawn(["prune"], kill_at)
        assert code in (0, -signal.SIGKILL), code

    @precondition(lambda self: len(self.made) >= 2)
    @rule(
        pick=st.integers(0, 10_000),
        kind=st.sampled_from(["index", "snapshots", "data", "locks", "keys"]),
    )
    def replay(self, pick: int, kind: str) -> None:
        now = _objects(self.repo)
        gone_all = sorted(n for n in self.history if n not in now and n != "config")
        # The kind asked for if it has anything gone, else any kind that has.
        gone = [n for n in gone_all if n.startswith(kind + "/")] or gone_all
        if not gone:
            return
        name = gone[pick % len(gone)]
        path = self.repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.history[name])
        self.replays += 1

    # ---- what must hold -------------------------------------------------------------------

    @invariant()
    def valid_snapshots_restore_and_stay_valid(self) -> None:
        if not self.repo.exists():
            return
        code, out, err = self.cli("check", "--json")
        assert code in (0, 15), err
        doc: dict[str, Any] = last_doc(out)
        damaged = {
            s for f in doc["findings"] if f["severity"] == "error" for s in f.get("snapshots", [])
        }
        listed = self.listed()
        valid = {s for s in listed if s not in damaged}
        lost = (self.valid & listed) - valid
        assert not lost, (lost, doc["findings"])
        for sid in valid - self.valid:  # newly valid (made, or replayed): check its bytes
            self._restores(sid)
        self.valid = valid

    def _restores(self, sid: str) -> None:
        if sid not in self.made:
            return  # a snapshot we did not make cannot be here: replays are of ours
        out = self.base / "restore"
        shutil.rmtree(out, ignore_errors=True)
        code, _, err = self.cli("restore", f"{sid}:{self.src}", "--target", str(out))
        assert code == 0, err
        assert_trees_equal(self.made[sid], out)

    def teardown(self) -> None:
        if os.environ.get("KAIKYO_INTERLEAVINGS_STATS"):
            print(
                f"kills {self.kills} replays {self.replays} made {len(self.made)} "
                f"valid {len(self.valid)}",
                flush=True,
            )
        # Once more at the end, every valid snapshot, byte for byte.
        if self.repo.exists():
            for sid in sorted(self.valid):
                self._restores(sid)
        shutil.rmtree(self.base, ignore_errors=True)


Interleavings.TestCase.settings = settings(
    max_examples=int(os.environ.get("KAIKYO_INTERLEAVINGS_EXAMPLES", "8")),
    stateful_step_count=14,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_interleavings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIKYO_INTERLEAVINGS_DIR", str(tmp_path))
    Interleavings.TestCase("runTest").runTest()
