"""The read-only view: reads pass through, every write is refused and changes nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kaikyo.cli.context import CliContext
from kaikyo.cli.session import Mode, repository
from kaikyo.core.constants import SNAPSHOT_PREFIX
from kaikyo.repo import Repository
from kaikyo.store import ReadOnlyStore, StorePermissionDenied
from kaikyo.store.local import LocalStore
from kaikyo.store.memory import MemoryStore


def test_reads_pass_and_writes_are_refused() -> None:
    inner = MemoryStore()
    inner.put("index/ab", b"bytes")
    view = ReadOnlyStore(inner)
    assert view.get("index/ab", 1, 3) == b"yte"
    assert [o.name for o in view.list("index/")] == ["index/ab"]
    assert view.exists("index/ab")
    with pytest.raises(StorePermissionDenied, match="only reads"):
        view.put("index/cd", b"x")
    with pytest.raises(StorePermissionDenied):
        view.put("index/ab", b"other", overwrite=True)
    with pytest.raises(StorePermissionDenied):
        view.delete("index/ab")
    assert inner.get("index/ab") == b"bytes"
    assert [o.name for o in inner.list()] == ["index/ab"]


def _ctx(tmp_path: Path) -> CliContext:
    env = {"KAIKYO_PASSWORD": "pw", "KAIKYO_CACHE_DIR": str(tmp_path / "cache")}
    return CliContext(env=env)


def _args(repo: Path) -> argparse.Namespace:
    return argparse.Namespace(repo=str(repo), password_file=None, json=False)


@pytest.mark.parametrize("mode", ["read", "shared"])
def test_a_reading_command_cannot_write_and_its_lock_is_released(
    tmp_path: Path, mode: Mode
) -> None:
    Repository.create(LocalStore(tmp_path / "repo", create=True), "pw", kdf_cost=(1, 64))
    with repository(_args(tmp_path / "repo"), _ctx(tmp_path), mode) as repo:
        with pytest.raises(StorePermissionDenied):
            repo.save_snapshot({"tree": "00" * 32, "time": 0.0})
        assert repo.list_snapshots() == []
    store = LocalStore(tmp_path / "repo")
    assert not list(store.list(SNAPSHOT_PREFIX))
    assert not list(store.list("locks/"))  # the shared lock was written and removed


def test_a_writing_command_writes(tmp_path: Path) -> None:
    Repository.create(LocalStore(tmp_path / "repo", create=True), "pw", kdf_cost=(1, 64))
    with repository(_args(tmp_path / "repo"), _ctx(tmp_path), "shared", write=True) as repo:
        sid = repo.save_snapshot({"tree": "00" * 32, "time": 0.0})
    reopened = Repository.open(LocalStore(tmp_path / "repo"), "pw")
    assert [r.snapshot_id for r in reopened.list_snapshots()] == [sid]
