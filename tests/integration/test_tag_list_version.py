"""kaikyo tag, list and version as a user runs them (restic's names and meanings)."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Any

import pytest

import kaikyo as kaikyo_pkg
from kaikyo.clock import SYSTEM_CLOCK
from kaikyo.repo import Repository, acquire_lock
from kaikyo.store.local import LocalStore
from kaikyo.testing import cli
from kaikyo.testing.compare import assert_trees_equal

from .conftest import PASSWORD, TENANT, Haven, Kaikyo
from .test_errors import assert_error


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    (d / "docs").mkdir(parents=True)
    (d / "big").write_bytes(os.urandom(700_000))
    (d / "docs" / "報告書.txt").write_text("海峡を越えて\n")
    return d


def snapshots(k: Kaikyo) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in k("snapshots", "--json").json()}


def stored(k: Kaikyo, top: str) -> list[str]:
    """The ids of the objects under ``top`` as they lie on disk (local or at the haven)."""
    return sorted(p.name for p in (k.repo / top).rglob("*") if p.is_file())


# ---- tag --------------------------------------------------------------------------------


def test_tag_add_remove_set_on_one_and_all(kaikyo: Kaikyo, src: Path) -> None:
    first = kaikyo("backup", "--json", "--tag", "nightly", src).json()["snapshot_id"]
    (src / "big").write_bytes(os.urandom(700_000))
    second = kaikyo.backup(src)["snapshot_id"]

    [change] = kaikyo("tag", first[:8], "--add", "夜間", "--json").json()
    assert change["old"] == first and change["tags"] == ["nightly", "夜間"]
    one = change["new"]
    assert set(snapshots(kaikyo)) == {one, second}
    assert snapshots(kaikyo)[one]["tags"] == ["nightly", "夜間"]
    assert snapshots(kaikyo)[one]["original"] == first

    # No ids: every snapshot; a,b is two tags; each manifest is rewritten once.
    changes = kaikyo("tag", "--add", "해협,weekly", "--add", "夜間", "--json").json()
    assert [c["old"] for c in changes] == [one, second]
    assert [c["tags"] for c in changes] == [
        ["nightly", "夜間", "해협", "weekly"],
        ["해협", "weekly", "夜間"],
    ]
    now = snapshots(kaikyo)
    assert set(now) == {c["new"] for c in changes}
    assert stored(kaikyo, "snapshots") == sorted(now)  # the old manifests are gone
    assert [now[c["new"]]["original"] for c in changes] == [first, second]  # the first id kept

    # Idempotent: nothing to change, nothing rewritten.
    again = kaikyo("tag", "--add", "weekly", "--remove", "absent")
    assert again.out.splitlines() == ["changed 0 snapshot(s)"]
    assert set(snapshots(kaikyo)) == set(now)

    # Only the snapshots whose tags change are rewritten.
    [removed] = kaikyo("tag", "--remove", "nightly", "--json").json()
    assert removed["tags"] == ["夜間", "해협", "weekly"]
    assert snapshots(kaikyo)[removed["new"]]["original"] == first
    run = kaikyo("tag", "latest", "--set", "only")
    assert run.out.splitlines()[0] == "changed 1 snapshot(s)"
    assert sorted(s["tags"] for s in snapshots(kaikyo).values()) == [
        ["only"],
        ["夜間", "해협", "weekly"],
    ]
    kaikyo("tag", "--set", "", "--json")  # --set '' removes every tag (as restic)
    assert [s["tags"] for s in snapshots(kaikyo).values()] == [[], []]
    assert sorted(s["original"] for s in snapshots(kaikyo).values()) == sorted([first, second])


def test_tag_filters_select_like_snapshots(local_kaikyo: Kaikyo, src: Path) -> None:
    k = local_kaikyo
    a = k("backup", "--json", "--host", "alpha", "--tag", "db", src).json()["snapshot_id"]
    b = k("backup", "--json", "--host", "beta", src).json()["snapshot_id"]
    assert k("tag", "--host", "gamma", "--add", "x", "--json").json() == []
    [by_host] = k("tag", "--host", "beta", "--add", "x", "--json").json()
    assert by_host["old"] == b
    [by_tag] = k("tag", "--tag", "db", "--add", "y", "--json").json()
    assert by_tag["old"] == a
    assert sorted(s["tags"] for s in snapshots(k).values()) == [["db", "y"], ["x"]]
    # The same id twice is one snapshot, rewritten once.
    [twice] = k("tag", by_tag["new"][:8], by_tag["new"], "--remove", "y", "--json").json()
    assert twice["tags"] == ["db"]


def test_a_retagged_snapshot_restores_and_checks(kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    sid = kaikyo.backup(src)["snapshot_id"]
    [change] = kaikyo("tag", sid, "--add", "keep", "--json").json()
    kaikyo.restore(f"{change['new'][:8]}:{src}", tmp_path / "out")
    assert_trees_equal(src, tmp_path / "out")
    checked = kaikyo("check", "--json").json()
    assert checked["ok"] and checked["snapshots"] == 1 and checked["findings"] == []


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        (("tag",), 64, "nothing to do"),
        (("tag", "latest"), 64, "nothing to do"),
        (("tag", "--set", "a", "--add", "b"), 64, "--set cannot be combined"),
        (("tag", "--set", "a", "--remove", "b"), 64, "--set cannot be combined"),
        (("tag", "--add", ""), 64, "empty tag in --add ''"),
        (("tag", "--remove", "a,,b"), 64, "empty tag in --remove 'a,,b'"),
        (("tag", "--set", "a,"), 64, "empty tag in --set 'a,'"),
        (("tag", "0123456789", "--add", "x"), 21, "no snapshot matches '0123456789'"),
        (("tag", "--add"), 64, "expected one argument"),
    ],
)
def test_tag_bad_input_changes_nothing(
    local_kaikyo: Kaikyo, src: Path, argv: tuple[str, ...], code: int, needle: str
) -> None:
    sid = local_kaikyo.backup(src)["snapshot_id"]
    if sid.startswith("0123456789"):
        pytest.skip("the snapshot's id is the unknown one")
    assert_error(local_kaikyo(*argv, expect=None), code, needle)
    assert stored(local_kaikyo, "snapshots") == [sid]


def test_tag_with_a_backup_token_keeps_both_and_names_the_old(
    haven: Haven, src: Path, tmp_path: Path
) -> None:
    """A backup token may save a manifest but not delete one: the new manifest is kept, the
    old one named, and the command stops there (one duplicate at most)."""
    k = haven.new(tmp_path / "cache").init()
    sid = k.backup(src)["snapshot_id"]
    (src / "big").write_bytes(os.urandom(700_000))
    other = k.backup(src)["snapshot_id"]
    backup_token = haven.proc.token(TENANT, "backup")
    run = k("tag", "--add", "x", env={"KAIKYO_TOKEN": backup_token}, expect=None)
    line = assert_error(run, 17, "could not remove the old manifest", f"snapshots/{sid}")
    assert run.out.splitlines() == ["changed 0 snapshot(s)"]
    now = snapshots(k)
    [new] = set(now) - {sid, other}
    assert now[new]["tags"] == ["x"] and now[new]["original"] == sid
    assert now[sid]["tags"] == [] and now[other]["tags"] == []  # the second left alone
    assert f"admin token: 'kaikyo forget {sid[:8]}'" in line
    k("forget", sid[:8])  # the owner's admin token removes the old one
    assert set(snapshots(k)) == {new, other}


# ---- list -------------------------------------------------------------------------------


def test_list_each_kind_is_what_the_store_holds(kaikyo: Kaikyo, src: Path) -> None:
    kaikyo.backup(src)
    (src / "big").write_bytes(os.urandom(700_000))
    kaikyo.backup(src)
    for kind, top in (
        ("snapshots", "snapshots"),
        ("index", "index"),
        ("keys", "keys"),
        ("packs", "data"),
    ):
        ids = stored(kaikyo, top)
        assert ids, kind
        assert kaikyo("list", kind).out == "".join(f"{i}\n" for i in ids)
        assert kaikyo("list", kind, "--json").json() == ids
    assert len(stored(kaikyo, "snapshots")) == 2
    assert kaikyo("list", "locks", "--json").json() == []
    repo = Repository.open(LocalStore(kaikyo.repo), PASSWORD)
    with acquire_lock(repo, SYSTEM_CLOCK, exclusive=False):
        held = stored(kaikyo, "locks")
        assert len(held) == 1
        assert kaikyo("list", "locks").out == f"{held[0]}\n"


def test_list_needs_a_known_kind_and_the_passphrase(local_kaikyo: Kaikyo) -> None:
    line = assert_error(local_kaikyo("list", "trees", expect=None), 64, "invalid choice: 'trees'")
    assert "'snapshots', 'index', 'keys', 'locks', 'packs', 'blobs'" in line
    assert_error(local_kaikyo("list", expect=None), 64, "KIND")
    run = local_kaikyo("list", "keys", env={"KAIKYO_PASSWORD": "wrong"}, expect=None)
    assert_error(run, 12)
    assert run.out == ""


def test_list_blobs_is_the_index(local_kaikyo: Kaikyo, src: Path) -> None:
    """restic's ``list blobs``: a ``data ID`` or ``tree ID`` line per blob of the index."""
    local_kaikyo.backup(src)
    repo = Repository.open(LocalStore(local_kaikyo.repo), PASSWORD)
    repo.load_index()
    expected = sorted(
        ("tree" if e.blob_type == 1 else "data", e.blob_id.hex()) for _, e in repo.index.entries()
    )
    assert {kind for kind, _ in expected} == {"data", "tree"}
    out = local_kaikyo("list", "blobs").out
    assert out == "".join(f"{kind} {i}\n" for kind, i in expected)
    as_json = local_kaikyo("list", "blobs", "--json").json()
    assert as_json == [{"type": kind, "id": i} for kind, i in expected]


def test_list_blobs_through_a_haven(kaikyo: Kaikyo, src: Path) -> None:
    sid = kaikyo.backup(src)["snapshot_id"]
    blobs = kaikyo("list", "blobs", "--json").json()
    trees = {b["id"] for b in blobs if b["type"] == "tree"}
    assert snapshots(kaikyo)[sid]["tree"] in trees
    assert len(trees) == len(src.parts) + 1  # the root, the dirs above src, src, docs
    data = [b for b in blobs if b["type"] == "data"]
    assert len(data) >= 2 and len({b["id"] for b in data}) == len(data)  # each blob once


# ---- version ----------------------------------------------------------------------------


def test_version() -> None:
    run = cli.kaikyo("version")
    assert run.code == 0, run.err
    python = platform.python_version()
    where = f"{os.uname().sysname.lower()}/{platform.machine()}"
    pattern = rf"kaikyo {re.escape(kaikyo_pkg.__version__)} running on \w+ {python} on {where}\n"
    assert re.fullmatch(pattern, run.out), run.out
    assert re.fullmatch(r"\d+\.\d+\.\d+", kaikyo_pkg.__version__)
    doc = cli.kaikyo("version", "--json").json()
    assert doc == {"version": kaikyo_pkg.__version__, "python": python, "platform": where}
    flag = cli.kaikyo("--version")
    assert (flag.code, flag.out, flag.err) == (0, f"kaikyo {kaikyo_pkg.__version__}\n", "")
