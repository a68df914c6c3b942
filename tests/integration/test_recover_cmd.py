"""kaikyo recover as a user runs it (restic's recover), against a local repository and
through a real haven."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaikyo.testing.compare import compare_scans, scan

from .conftest import Kaikyo
from .secret_tree import listed, make_src, snapshots, spoil_tree, stored


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_src(tmp_path)


# ---- recover ----------------------------------------------------------------------------


def test_recover_a_forgotten_snapshot(kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    first = kaikyo.backup(src)
    first["tree"] = snapshots(kaikyo)[first["snapshot_id"]]["tree"]
    before = scan(src)
    (src / "docs" / "報告書.txt").write_text("変更\n")
    kaikyo.backup(src)
    nothing = kaikyo("recover")
    assert nothing.out.splitlines()[-1] == (
        "nothing to recover: every tree is in a snapshot; nothing was saved"
    )
    assert len(snapshots(kaikyo)) == 2
    kaikyo("forget", first["snapshot_id"])  # no prune: the data stays
    result = kaikyo("recover", "--json").json()
    assert result["roots"] == [first["tree"]] and result["unreadable"] == []
    sid = result["snapshot_id"]
    doc = snapshots(kaikyo)[sid]
    assert doc["paths"] == ["/recover"] and doc["tags"] == ["recovered"]
    assert listed(kaikyo, sid) >= {f"/{first['tree'][:8]}", f"/{first['tree'][:8]}{src}/big"}
    kaikyo.restore(f"{sid[:8]}:/{first['tree'][:8]}{src}", tmp_path / "back")
    assert compare_scans(before, scan(tmp_path / "back")) == []
    again = kaikyo("recover", "--json").json()
    assert again["snapshot_id"] is None and again["roots"] == []
    checked = kaikyo("check", "--json").json()
    assert checked["ok"] and checked["findings"] == []


def test_recover_after_a_manifest_is_deleted_from_the_store(
    local_kaikyo: Kaikyo, src: Path, tmp_path: Path
) -> None:
    k = local_kaikyo
    first = k.backup(src)
    first["tree"] = snapshots(k)[first["snapshot_id"]]["tree"]
    (src / "big").write_bytes(os.urandom(1000))
    k.backup(src)
    (k.repo / "snapshots" / first["snapshot_id"]).unlink()
    objects = stored(k, "snapshots")
    run = k("recover")
    lines = run.out.splitlines()
    assert lines[0].endswith("; 1 no snapshot references")
    assert lines[1] == f"  {first['tree'][:8]}"
    [sid] = set(stored(k, "snapshots")) - set(objects)
    target = tmp_path / "out"
    k.restore(sid.split("/")[-1], target)
    restored = target / first["tree"][:8] / src.relative_to("/")
    assert (restored / "big").stat().st_size == 300_000
    assert (restored / "docs" / "報告書.txt").read_text() == "海峡を越えて\n"


def test_recover_goes_below_an_unreadable_tree(local_kaikyo: Kaikyo, src: Path) -> None:
    k = local_kaikyo
    sid = k.backup(src)["snapshot_id"]
    root = snapshots(k)[sid]["tree"]
    [top] = k("cat", "tree", root).json()  # the tree of /tmp, below the root
    (k.repo / "snapshots" / sid).unlink()
    spoil_tree(k, root)
    run = k("recover", "--json")
    warnings = [ln for ln in run.err.splitlines() if ln.startswith("kaikyo: warning:")]
    assert len(warnings) == 1 and f"tree {root[:8]} is unreadable" in warnings[0]
    result = run.json()
    assert result["unreadable"] == [root] and result["roots"] == [top["subtree"]]
    assert top["name"] == src.parts[1]  # the tree of /tmp holds what is below /tmp
    below = src.relative_to("/" + src.parts[1])
    assert f"/{top['subtree'][:8]}/{below}/big" in listed(k, result["snapshot_id"])
