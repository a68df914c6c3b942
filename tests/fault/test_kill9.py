"""kill -9 of real ``kaikyo backup`` and ``kaikyo prune`` processes at many points.

Kill points are deterministic: ``KAIKYO_TEST_KILL_AT_WRITE=N`` (honoured in cli/config.py
only) SIGKILLs the command's whole process group just before its Nth store write (put or
delete, counted across the worker processes), so each N is a distinct point in the write
sequence: before the lock, between packs, before or after an index file, before the
snapshot, while deleting. A few kills by wall-clock delay add points nobody chose.

After every kill: ``check`` passes (warnings about unindexed packs allowed), every earlier
snapshot restores byte-exactly, and the next run completes, adopting the packs the killed
run left, so it uploads less than the new data it covers.

The repository uses small packs (512 KiB) so a backup of a few MiB writes many objects,
and a cheap KDF so the many commands do not spend their time in Argon2.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kaikyo.store.local import LocalStore
from kaikyo.testing.cli import kaikyo
from kaikyo.testing.compare import Entry, assert_trees_equal, scan
from kaikyo.testing.repos import new_repository
from kaikyo.testing.trees import rand_bytes

pytestmark = pytest.mark.slow

PASSWORD = "fault injection"
KIB = 1024
MIB = 1024 * KIB
KAIKYO = str(Path(sys.executable).parent / "kaikyo")

# Writes of one incremental backup here (about 13): lock, 8-9 data packs, tree pack, index,
# snapshot, lock removal. A kill at the last one leaves a saved snapshot (handled).
BACKUP_POINTS: list[int | float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 2, 5, 8]
# By wall clock (the process starts in about 0.35 s and backs up in about 0.2 s): may land
# anywhere, including after the end.
BACKUP_DELAYS: list[int | float] = [0.45, 0.55, 0.65, 0.8]
PRUNE_POINTS = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16]

Snapshot = tuple[str, dict[bytes, Entry]]


class Lab:
    """One repository, its source tree, and the snapshots it should hold."""

    def __init__(self, base: Path, seed: int) -> None:
        self.base = base
        self.repo = base / "repo"
        self.src = base / "src"
        self.rng = random.Random(seed)
        self.env = {
            "KAIKYO_REPOSITORY": str(self.repo),
            "KAIKYO_PASSWORD": PASSWORD,
            "KAIKYO_CACHE_DIR": str(base / "cache"),
            "KAIKYO_WORKERS": "2",
        }
        new_repository(
            LocalStore(self.repo, create=True),
            PASSWORD,
            pack_size=512 * KIB,
            kdf_cost=(1, 8 * 1024),
        )
        self.snapshots: list[Snapshot] = []
        self.kills = 0
        self._counter = 0

    # ---- running kaikyo -----------------------------------------------------------------

    def cli(self, *argv: str | os.PathLike[str], expect: int = 0) -> Any:
        run = kaikyo(*argv, env=self.env)
        assert run.code == expect, f"kaikyo {argv} exited {run.code}: {run.err}"
        return run.json() if "--json" in argv else None

    def spawn(self, *argv: str, kill_at: int | float) -> int:
        """Run kaikyo as a real process group; kill it at write N (int) or after s (float)."""
        env = {**os.environ, **self.env}
        if isinstance(kill_at, int):
            env["KAIKYO_TEST_KILL_AT_WRITE"] = str(kill_at)
        proc = subprocess.Popen(
            [KAIKYO, *argv],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if isinstance(kill_at, float):
            try:
                proc.wait(timeout=kill_at)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        if proc.returncode == -signal.SIGKILL:
            self.kills += 1
        else:
            assert proc.returncode == 0, err.decode()
        return proc.returncode

    # ---- data -----------------------------------------------------------------------------

    def _file(self, path: Path, data: bytes) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return len(data)

    def populate(self) -> None:
        for i in range(40):
            self._file(
                self.src / "small" / f"s{i:03d}",
                rand_bytes(self.rng, self.rng.randint(0, 40 * KIB)),
            )
        for i in range(3):
            self._file(self.src / "big" / f"b{i}", rand_bytes(self.rng, 1 * MIB + i))
        self._file(self.src / "text", b"compressible line\n" * 50_000)

    def mutate(self) -> int:
        """Add new random data, change a file, delete one; returns the new bytes."""
        self._counter += 1
        n = self._counter
        added = self._file(self.src / "new" / f"big{n:03d}", rand_bytes(self.rng, 1536 * KIB))
        for i in range(16):
            added += self._file(
                self.src / "new" / f"r{n:03d}-{i}",
                rand_bytes(self.rng, self.rng.randint(150 * KIB, 300 * KIB)),
            )
        smalls = sorted((self.src / "small").iterdir())
        added += self._file(smalls[n % len(smalls)], rand_bytes(self.rng, 20 * KIB))
        for old in (self.src / "new").glob(f"*{n - 2:03d}*"):  # bound the tree's size
            old.unlink()
        return added

    # ---- checks -------------------------------------------------------------------------

    def backup(self) -> dict[str, Any]:
        doc: dict[str, Any] = self.cli("backup", "--json", self.src)
        self.snapshots.append((doc["snapshot_id"], scan(self.src)))
        return doc

    def adopt_completed(self) -> None:
        """A kill after the snapshot was written (while unlocking) still saved it."""
        ids = [s["id"] for s in self.cli("snapshots", "--json")]
        known = {sid for sid, _ in self.snapshots}
        extra = [sid for sid in ids if sid not in known]
        assert len(extra) <= 1, extra
        if extra:
            self.snapshots.append((extra[0], scan(self.src)))

    def verify(self, read_data: bool = False) -> None:
        doc = self.cli("check", "--json", *(["--read-data"] if read_data else []))
        assert doc["ok"], doc["findings"]
        assert {f["kind"] for f in doc["findings"]} <= {"unindexed-pack"}
        ids = {s["id"] for s in self.cli("snapshots", "--json")}
        assert ids == {sid for sid, _ in self.snapshots}
        for sid, state in self.snapshots:
            out = self.base / "restore"
            self.cli("restore", f"{sid}:{self.src}", "--target", out)
            assert_trees_equal(state, out)
            shutil.rmtree(out)


def test_kill9_backup(tmp_path: Path) -> None:
    lab = Lab(tmp_path, seed=11)
    lab.populate()
    cold = lab.backup()
    assert cold["adopted_packs"] == 0
    adopted_rounds = 0
    for point in BACKUP_POINTS + BACKUP_DELAYS:
        new_bytes = lab.mutate()
        lab.spawn("backup", str(lab.src), kill_at=point)
        lab.adopt_completed()
        lab.verify()
        doc = lab.backup()
        # The files cache survived the kill (it is replaced only after a snapshot is saved),
        # and the killed backup's half-written one was removed by this backup.
        assert doc["summary"]["files_unmodified"] > 0, (point, doc["summary"])
        assert not list((lab.base / "cache").rglob("files.tmp*")), point
        if doc["adopted_packs"]:
            adopted_rounds += 1
            # The resumed run stores less than the new data it covers: the rest was adopted.
            assert doc["summary"]["data_added"] < new_bytes, (point, doc)
    lab.verify(read_data=True)
    assert lab.kills >= 15
    assert adopted_rounds >= 5


def test_kill9_prune(tmp_path: Path) -> None:
    lab = Lab(tmp_path, seed=12)
    lab.populate()
    lab.backup()
    for _ in range(8):
        lab.mutate()
        lab.backup()
    for point in PRUNE_POINTS:
        if len(lab.snapshots) > 3:
            sid, _ = lab.snapshots.pop(0)
            lab.cli("forget", sid)
        lab.spawn("prune", kill_at=point)
        lab.verify()
    assert lab.kills >= 8
    doc = lab.cli("prune", "--json")
    assert doc["dry_run"] is False
    lab.verify(read_data=True)
    # Everything unreferenced is gone: a second prune finds nothing to do.
    again = lab.cli("prune", "--json")
    assert again["packs_deleted"] == again["packs_repacked"] == 0


def test_kill_hook_is_inert_without_the_variable(tmp_path: Path) -> None:
    """The hook only exists when asked for: an ordinary run is not wrapped."""
    lab = Lab(tmp_path, seed=13)
    lab.populate()
    started = time.monotonic()
    assert lab.spawn("backup", str(lab.src), kill_at=60.0) == 0
    assert time.monotonic() - started < 60
    lab.adopt_completed()
    lab.verify()
