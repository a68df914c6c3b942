"""One planted object never blocks or destroys a backup (issue 10, part A).

Each test plants what a token of the named scope can store at a real haven (bytes named by
their hash, no passphrase), or what anyone with file access can put in a local repository,
then runs the commands that used to fail. Every command either works, with a warning that
names the object and the command that removes it, or refuses in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.test_errors import assert_error
from kaikyo.core.format.index import encode_index
from kaikyo.repo import Repository
from kaikyo.testing.compare import assert_trees_equal

from .conftest import Victim, content_name, new_victim


@contextlib.contextmanager
def _open(v: Victim) -> Iterator[Repository]:
    """The owner's repository, opened in this process (with the admin token at a haven)."""
    from kaikyo.store import StoreOptions, open_store

    url = v.url or str(v.root)
    token = v.tokens["admin"] if v.tokens else None
    store = open_store(url, StoreOptions(token=token))
    try:
        yield Repository.open(store, v.k.env["KAIKYO_PASSWORD"])
    finally:
        store.close()


def _restores(v: Victim, tree: Path, out: Path, ref: str = "latest") -> str:
    run = v.k.restore(f"{ref}:{tree}", out)
    assert "Traceback" not in run.err
    assert_trees_equal(tree, out)
    return run.err


def _warned(err: str, name: str) -> None:
    assert f"kaikyo: warning: {name}:" in err, err
    assert "skipped (" in err


# ---- A1: an old index put back after a prune ----------------------------------------------


def test_replayed_index_after_prune_loses_nothing(
    victim: Victim, tree: Path, tmp_path: Path
) -> None:
    """A backup token saves the index files, the owner forgets and prunes (repacking the pack
    that held both files), the token puts the old index back. A haven refuses the replay
    (410: it never stores a name it deleted); a local repository takes it, and the next prune
    must keep the live copy, not the one in the pack that is gone."""
    k = victim.k
    first = k.backup(tree)["snapshot_id"]
    (tree / "one").unlink()
    k.backup(tree)
    saved = victim.objects("index")
    k("forget", first)
    done = k("prune", "--json").json()
    assert done["packs_repacked"] + done["packs_deleted"] >= 1
    gone = {n: d for n, d in saved.items() if n not in victim.objects("index")}
    statuses = {n: victim.put(n, d, "backup") for n, d in gone.items()}
    if victim.kind == "haven":
        assert set(statuses.values()) == {410}, statuses
    else:
        assert set(statuses.values()) == {201}
        run = k("prune")
        # Those naming packs the prune deleted are named (the others are simply true).
        assert any(f"kaikyo: warning: {n}: names" in run.err for n in gone), run.err
    _restores(victim, tree, tmp_path / "out")
    k("repair", "index")
    k("check", "--read-data")


def test_the_haven_never_stores_a_deleted_name_again(
    tree: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every kind a token may write: a forgotten snapshot, a removed key, a released lock,
    a pruned pack put back are refused; the operator's undelete still brings one back."""
    v = new_victim("haven", tmp_path, request)
    k = v.k
    first = k.backup(tree)["snapshot_id"]
    (tree / "one").write_bytes(os.urandom(1024 * 1024))
    k.backup(tree)
    before = {
        n: d for kind in ("snapshots", "data", "index", "keys") for n, d in v.objects(kind).items()
    }
    k("key", "add", env={"KAIKYO_NEW_PASSWORD": "another"})
    added = {n: d for n, d in v.objects("keys").items() if n not in before}
    before.update(added)
    k("key", "remove", next(iter(added)).split("/")[1][:12])
    k("forget", first)
    k("prune")
    gone = {
        n: d
        for n, d in before.items()
        if n
        not in {
            **v.objects("snapshots"),
            **v.objects("data"),
            **v.objects("index"),
            **v.objects("keys"),
        }
    }
    assert {n.split("/")[0] for n in gone} >= {"snapshots", "data", "index", "keys"}
    for name, data in gone.items():
        for scope in ("backup", "admin"):
            assert v.put(name, data, scope) == 410, (name, scope)
    snapshot = next(n for n in gone if n.startswith("snapshots/"))
    from kaikyo.testing.cli import kaikyo

    data_dir = v.root.parents[2]
    code, _, err = kaikyo(
        "tenant", "undelete", "victim", "--data", str(data_dir), "--name", snapshot
    )
    assert code == 0, err
    assert any(s["id"] == first for s in k("snapshots", "--json").json())


def test_index_naming_a_gone_pack_that_sorts_first(
    victim: Victim, tree: Path, tmp_path: Path
) -> None:
    """Deterministic form of the replay: an index names every live blob in a pack that is
    not stored and sorts before every real pack. Prune used to keep that 'copy' and delete
    the live one."""
    k = victim.k
    k.backup(tree)
    with _open(victim) as repo:
        repo.load_index()
        entries = [e for _, e in repo.index.entries()]
        repo.write_index_plain(encode_index([(bytes(32), entries)]))
    run = k("prune", "--json")
    assert run.code == 0 and "names 1 pack(s) that are not stored" in run.err
    _restores(victim, tree, tmp_path / "out")


def test_reading_a_missing_pack_is_an_integrity_error(
    victim: Victim, tree: Path, tmp_path: Path
) -> None:
    """The trees are there, a pack of file data is not: exit 15 (damage), never 21."""
    k = victim.k
    k.backup(tree)
    data_only = [
        e["pack"]
        for e in k("cat", "index").json()
        if all(b["type"] == 0 for b in k("cat", "pack", e["pack"]).json())
    ]
    assert data_only
    with _open(victim) as repo:
        for pid in data_only:
            repo.store.delete(f"data/{pid[:2]}/{pid}")  # at a haven: into the tenant's trash
    run = k.restore(f"latest:{tree}", tmp_path / "out", expect=None)
    assert_error(run, 15, "missing")


# ---- A2: an unreadable lock -----------------------------------------------------------------


def test_garbage_lock_from_a_restore_token(victim: Victim, tree: Path, tmp_path: Path) -> None:
    k = victim.k
    k.backup(tree)
    lock = victim.plant("locks/", os.urandom(200), "restore")
    for argv in (
        ("backup", tree),
        ("check",),
        ("forget", "--keep-last", "1"),
        ("prune",),
        ("snapshots",),
    ):
        run = k(*argv)
        if argv[0] != "snapshots":  # takes no lock
            _warned(run.err, lock)
        assert "Traceback" not in run.err
    removed = k("unlock", "--json").json()
    assert removed["details"][0]["name"] == lock
    assert lock not in victim.objects("locks")
    run = k("backup", tree)
    assert "warning" not in run.err


def test_check_reports_an_unreadable_lock_as_a_warning(victim: Victim, tree: Path) -> None:
    k = victim.k
    k.backup(tree)
    lock = victim.plant("locks/", os.urandom(200), "restore")
    doc = k("check", "--json").json()
    [finding] = [f for f in doc["findings"] if f["object"] == lock]
    assert finding["severity"] == "warning" and "kaikyo unlock" in finding["message"]
    assert doc["ok"]


# ---- A3: a garbage snapshot -----------------------------------------------------------------


def test_garbage_snapshot_hides_nothing(victim: Victim, tree: Path, tmp_path: Path) -> None:
    k = victim.k
    sid = k.backup(tree)["snapshot_id"]
    bad = victim.plant("snapshots/", os.urandom(300), "backup")
    run = k("snapshots", "--json")
    assert [s["id"] for s in run.json()] == [sid]
    _warned(run.err, bad)
    assert "kaikyo repair snapshots" in run.err
    _warned(_restores(victim, tree, tmp_path / "out"), bad)
    assert k("ls", "latest").code == 0
    assert k("forget", "--keep-last", "1").code == 0
    assert k("prune").code == 0
    assert_error(k("check", expect=None), 15, "check found 1 error")
    done = k("repair", "snapshots", "--json").json()
    assert done["removed"] == [bad]
    assert (Path(done["quarantine"]) / bad.replace("/", "-")).is_file()
    run = k("check")
    assert "warning" not in run.err


def test_a_rotten_snapshot_file(tree: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """No attacker: one manifest's bytes rot on disk (its name no longer matches). Local
    only: rot on the haven's disk is the operator's to find ('kaikyo haven scrub')."""
    victim = new_victim("local", tmp_path, request)
    k = victim.k
    k.backup(tree)
    second = k.backup(tree)["snapshot_id"]
    path = next(p for p in (victim.root / "snapshots").iterdir() if p.name != second)
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    run = k("snapshots", "--json")
    assert [s["id"] for s in run.json()] == [second]
    _warned(run.err, f"snapshots/{path.name}")
    _restores(victim, tree, tmp_path / "out")


def test_repair_snapshots_needs_an_admin_token_at_a_haven(
    tree: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    victim = new_victim("haven", tmp_path, request)
    k = victim.k
    k.backup(tree)
    bad = victim.plant("snapshots/", os.urandom(300), "backup")
    assert victim.tokens is not None
    run = k("repair", "snapshots", env={"KAIKYO_TOKEN": victim.tokens["backup"]}, expect=None)
    assert_error(run, 17, "could not be removed")
    assert bad in victim.objects("snapshots")


# ---- A4: bogus key slots --------------------------------------------------------------------


def _slot(v: Victim, **change: object) -> dict[str, object]:
    real = json.loads(next(iter(v.objects("keys").values())))
    real.update(change)
    return real


BOGUS_SLOTS = {
    "unknown version": {"version": 2},
    "no kdf": {"kdf": None},
    "huge memory": {
        "kdf": {
            "algorithm": "argon2id",
            "salt": "c2FsdHNhbHRzYWx0c2FsdA==",
            "time_cost": 1,
            "memory_kib": 4294967295,
            "parallelism": 2,
        }
    },
    "many passes": {
        "kdf": {
            "algorithm": "argon2id",
            "salt": "c2FsdHNhbHRzYWx0c2FsdA==",
            "time_cost": 1000,
            "memory_kib": 65536,
            "parallelism": 2,
        }
    },
}


@pytest.mark.parametrize("bogus", sorted(BOGUS_SLOTS))
def test_bogus_key_slot(victim: Victim, tree: Path, bogus: str) -> None:
    k = victim.k
    k.backup(tree)
    doc = _slot(victim, **BOGUS_SLOTS[bogus])
    if doc.get("kdf") is None:
        del doc["kdf"]
    name = victim.plant("keys/", json.dumps(doc).encode(), "backup")
    # With the right passphrase the slot that opened last time is tried first: no cost.
    assert k("snapshots").code == 0
    # A wrong one tries every slot: the bogus one is refused unread, in one line each.
    run = k("snapshots", env={"KAIKYO_PASSWORD": "wrong"}, expect=None)
    assert_error(run, 12, "wrong passphrase")
    _warned(run.err, name)
    listed = k("key", "list")
    _warned(listed.err, name)
    k("key", "remove", name.split("/")[1][:12])
    assert name not in victim.objects("keys")
    assert "warning" not in k("key", "list").err


def test_a_fresh_machine_opens_despite_bogus_slots(
    victim: Victim, tree: Path, tmp_path: Path
) -> None:
    """No remembered slot: every slot may be tried, and a bogus one never stops the open."""
    k = victim.k
    k.backup(tree)
    for bogus in BOGUS_SLOTS.values():
        doc = _slot(victim, **bogus)
        if doc.get("kdf") is None:
            del doc["kdf"]
        victim.plant("keys/", json.dumps(doc).encode(), "backup")
    run = k("snapshots", env={"KAIKYO_CACHE_DIR": str(tmp_path / "fresh")})
    assert run.code == 0 and "Traceback" not in run.err


# ---- A5: a garbage index file ---------------------------------------------------------------


def test_garbage_index_file(victim: Victim, tree: Path, tmp_path: Path) -> None:
    k = victim.k
    k.backup(tree)
    bad = victim.plant("index/", os.urandom(500), "backup")
    _warned(k("backup", tree).err, bad)
    _warned(_restores(victim, tree, tmp_path / "out"), bad)
    doc = k("check", "--json", expect=15).json()
    assert [f["object"] for f in doc["findings"] if f["severity"] == "error"] == [bad]
    _warned(k("prune").err, bad)  # prune rewrites the index: the garbage file is gone
    assert bad not in victim.objects("index")
    k("check", "--read-data")


def test_every_index_file_lost_and_garbage_planted(
    tree: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every index file gone (local disk) and a garbage one planted: the packs are read by
    their headers."""
    victim = new_victim("local", tmp_path, request)
    k = victim.k
    k.backup(tree)
    for p in (victim.root / "index").iterdir():
        p.unlink()
    victim.plant("index/", os.urandom(64))
    _restores(victim, tree, tmp_path / "out")


# ---- C21/C22: a truncated pack --------------------------------------------------------------


def test_truncated_pack_is_found_without_read_data(
    tree: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Local only: a haven verifies every object's bytes against its name."""
    v = new_victim("local", tmp_path, request)
    k = v.k
    k.backup(tree)
    packs = sorted(
        (v.root / "data").rglob("*"), key=lambda p: -p.stat().st_size if p.is_file() else 0
    )
    biggest = packs[0]
    size = biggest.stat().st_size
    with open(biggest, "r+b") as fh:
        fh.truncate(size // 2)
    doc = k("check", "--json", expect=15).json()
    messages = " ".join(f["message"] for f in doc["findings"])
    assert f"data/{biggest.name[:2]}/{biggest.name}" in messages and "shorter" in messages
    run = k.restore(f"latest:{tree}", tmp_path / "out", expect=None)
    assert_error(run, 15)  # not 64 ("see --help")
    # The next backup stores what was lost again, so the new snapshot restores whole.
    k.backup(tree)
    fresh = tmp_path / "fresh"
    _restores(v, tree, fresh)


def test_planted_name_helper() -> None:
    assert content_name("data/", b"x").startswith("data/2d/2d71")
