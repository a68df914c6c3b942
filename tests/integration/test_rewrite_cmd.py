"""kaikyo rewrite as a user runs it (restic's names and meanings), against a local
repository and through a real haven."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kaikyo.cli.output import human_bytes
from kaikyo.testing.compare import compare_scans, scan

from .conftest import TENANT, Haven, Kaikyo
from .secret_tree import SECRET_DIR, listed, make_src, snapshots, spoil_tree, stored, without
from .test_errors import assert_error


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_src(tmp_path)


def node_at(k: Kaikyo, tree: str, path: Path) -> dict[str, Any]:
    """The node at the absolute ``path`` below the root ``tree``, read with ``cat tree``."""
    node: dict[str, Any] = {"subtree": tree}
    for name in path.parts[1:]:
        [node] = [n for n in k("cat", "tree", node["subtree"]).json() if n.get("name") == name]
    return node


def content(k: Kaikyo, tree: str, path: Path) -> list[str]:
    return list(node_at(k, tree, path)["content"])


# ---- rewrite ----------------------------------------------------------------------------


def test_rewrite_removes_files_from_every_snapshot(
    kaikyo: Kaikyo, src: Path, tmp_path: Path
) -> None:
    first = kaikyo.backup(src)
    first_scan = scan(src)
    (src / "app" / "main.py").write_bytes(b"print('changed')\n")
    second = kaikyo("backup", "--json", "--tag", "夜間", src).json()
    second_scan = scan(src)
    old = [first["snapshot_id"], second["snapshot_id"]]

    result = kaikyo(
        "rewrite", "--exclude", SECRET_DIR, "--exclude", "*.tmp", "--iexclude", "*.tmp", "--json"
    ).json()
    assert result["dry_run"] is False and result["unchanged"] == []
    rewritten = result["rewritten"]
    assert [r["old"] for r in rewritten] == old
    secret = str(src / "docs" / SECRET_DIR)
    assert rewritten[0]["removed"] == [
        {"path": str(src / "app" / "보고서.TMP"), "type": "file", "files": 1, "dirs": 0,
         "other": 0, "bytes": 10},
        {"path": str(src / "docs" / "draft.tmp"), "type": "file", "files": 1, "dirs": 0,
         "other": 0, "bytes": 7},
        {"path": secret, "type": "dir", "files": 2, "dirs": 2, "other": 0, "bytes": 953},
    ]  # fmt: skip
    now = snapshots(kaikyo)
    assert set(now) == {*old, *(r["new"] for r in rewritten)}  # the old ones stay
    for r, backup, tags in zip(rewritten, (first, second), ([], ["夜間"]), strict=True):
        new = now[r["new"]]
        assert new["original"] == r["old"] and new["tags"] == [*tags, "rewrite"]
        assert new["time"] == now[r["old"]]["time"] and new["paths"] == [str(src)]
        assert new["hostname"] == now[r["old"]]["hostname"]
        summary, was = new["summary"], backup["summary"]
        assert summary["bytes_total"] == was["bytes_total"] - 970
        assert summary["dirs"] == was["dirs"] - 2 and summary["files_removed"] == 4
        assert summary["files_new"] == was["files_new"]
        files = listed(kaikyo, r["new"])
        assert str(src / "docs" / "報告書.txt") in files
        assert not any(SECRET_DIR in f or f.lower().endswith(".tmp") for f in files)
        assert listed(kaikyo, r["old"]) > files
    gone = ("docs/draft.tmp", "app/보고서.TMP", f"docs/{SECRET_DIR}")
    for r, before, name in zip(rewritten, (first_scan, second_scan), "ab", strict=True):
        kaikyo.restore(f"{r['new'][:8]}:{src}", tmp_path / name)
        assert compare_scans(without(before, src, *gone), scan(tmp_path / name)) == []

    # Rerun: the old snapshots would give the same manifests again, which are saved: reused.
    again = kaikyo("rewrite", "--exclude", SECRET_DIR, "--exclude", "*.tmp", "--iexclude", "*.tmp")
    lines = again.out.splitlines()
    assert sum("already saved as" in ln for ln in lines) == 2
    assert sum(ln.endswith(": no changes") for ln in lines) == 2
    assert set(snapshots(kaikyo)) == set(now)
    checked = kaikyo("check", "--json").json()
    assert checked["ok"] and checked["findings"] == []


def test_unchanged_subtrees_keep_their_ids(local_kaikyo: Kaikyo, src: Path) -> None:
    k = local_kaikyo
    sid = k.backup(src)["snapshot_id"]
    [r] = k("rewrite", sid[:8], "--exclude", f"docs/{SECRET_DIR}", "--json").json()["rewritten"]
    old_root, new_root = snapshots(k)[sid]["tree"], r["tree"]
    assert old_root != new_root
    old, new = (
        {n["name"]: n for n in k("cat", "tree", node_at(k, root, src)["subtree"]).json()}
        for root in (old_root, new_root)
    )
    assert old["app"]["subtree"] == new["app"]["subtree"]  # nothing below it matched
    assert old["big"] == new["big"]
    assert old["docs"]["subtree"] != new["docs"]["subtree"]
    assert {n: v for n, v in old["docs"].items() if n != "subtree"} == {
        n: v for n, v in new["docs"].items() if n != "subtree"
    }  # its own metadata kept


def test_rewrite_forget_then_prune_leaves_a_clean_repository(
    kaikyo: Kaikyo, src: Path, tmp_path: Path
) -> None:
    # Big enough that its pack is mostly unused after the rewrite, so prune repacks it (a
    # pack less than 10% unused is kept whole: a small file would stay in it).
    (src / "docs" / SECRET_DIR / "dump.bin").write_bytes(os.urandom(400_000))
    sid = kaikyo.backup(src)["snapshot_id"]
    before = scan(src)
    root = snapshots(kaikyo)[sid]["tree"]
    secret = {
        blob
        for name in ("鍵.pem", "dump.bin")
        for blob in content(kaikyo, root, src / "docs" / SECRET_DIR / name)
    }
    run = kaikyo("rewrite", "--forget", "--exclude", f"/**/{SECRET_DIR}")
    lines = run.out.splitlines()
    size = human_bytes(400_953)
    assert lines[0].startswith(f"snapshot {sid[:8]}: removed 3 file(s), {size}; saved as ")
    assert lines[0].endswith(", old one removed:")
    assert lines[1] == f"  - {src / 'docs' / SECRET_DIR}/ (with 3 file(s), {size})"
    assert lines[-1].startswith("rewrote 1 snapshot(s); 'kaikyo prune' removes the data")
    [(new, doc)] = snapshots(kaikyo).items()
    assert doc["original"] == sid and doc["tags"] == []  # restic: no tag with --forget
    pruned = kaikyo("prune", "--json").json()
    assert pruned["bytes_freed"] > 0
    checked = kaikyo("check", "--read-data", "--json").json()
    assert checked["ok"] and checked["findings"] == [] and checked["packs_read"] > 0
    kaikyo.restore(new, tmp_path / "out")
    assert (
        compare_scans(
            without(before, src, f"docs/{SECRET_DIR}"),
            scan(tmp_path / "out" / src.relative_to("/")),
        )
        == []
    )
    blobs = {b["id"] for b in kaikyo("list", "blobs", "--json").json()}
    assert secret and not secret & blobs  # the key's data is gone from the repository
    assert kaikyo("recover", "--json").json()["roots"] == []  # and so are the old trees


def test_dry_run_lists_and_writes_nothing(kaikyo: Kaikyo, src: Path) -> None:
    sid = kaikyo.backup(src)["snapshot_id"]
    objects = stored(kaikyo)
    run = kaikyo("rewrite", "-n", "--forget", "--exclude", "*.tmp", "--exclude", SECRET_DIR)
    assert run.out.splitlines() == [
        f"snapshot {sid[:8]}: would remove 3 file(s), 960 B:",
        f"  - {src / 'docs' / 'draft.tmp'}",
        f"  - {src / 'docs' / SECRET_DIR}/ (with 2 file(s), 953 B)",
        "dry run: would rewrite 1 snapshot(s); nothing was written",
    ]
    as_json = kaikyo("rewrite", "--dry-run", "--exclude", "*.tmp", "--json").json()
    [r] = as_json["rewritten"]
    assert as_json["dry_run"] and r["id"] == sid and "new" not in r
    assert [x["path"] for x in r["removed"]] == [str(src / "docs" / "draft.tmp")]
    assert stored(kaikyo) == objects
    assert list(snapshots(kaikyo)) == [sid]


def test_exclude_file_and_no_match(kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    sid = kaikyo.backup(src)["snapshot_id"]
    objects = stored(kaikyo)
    nothing = kaikyo("rewrite", "--exclude", "*.absent", "--exclude", "/elsewhere/docs")
    assert nothing.out.splitlines() == [f"snapshot {sid[:8]}: no changes", "rewrote 0 snapshot(s)"]
    assert stored(kaikyo) == objects  # nothing saved, no tree, no index, no manifest
    patterns = tmp_path / "patterns"
    patterns.write_text(f"# 鍵 and reports\n\n  {SECRET_DIR}/鍵.pem\n*/報告書.txt\n")
    ipatterns = tmp_path / "ipatterns"
    ipatterns.write_text("APP/*.tmp\n")
    result = kaikyo(
        "rewrite", "--exclude-file", patterns, "--iexclude-file", ipatterns, "--json"
    ).json()
    [r] = result["rewritten"]
    assert sorted(x["path"] for x in r["removed"]) == sorted(
        [
            str(src / "app" / "보고서.TMP"),
            str(src / "docs" / "報告書.txt"),
            str(src / "docs" / SECRET_DIR / "鍵.pem"),
        ]
    )
    assert str(src / "docs" / SECRET_DIR / "deeper" / "two.pem") in listed(kaikyo, r["new"])


def test_rewrite_selects_as_other_commands(local_kaikyo: Kaikyo, src: Path) -> None:
    k = local_kaikyo
    a = k("backup", "--json", "--host", "alpha", "--tag", "db", src).json()["snapshot_id"]
    b = k("backup", "--json", "--host", "beta", src / "docs").json()["snapshot_id"]
    c = k("backup", "--json", "--host", "beta", src / "app").json()["snapshot_id"]

    def chosen(*argv: str) -> list[str]:
        out = k("rewrite", "-n", "--exclude", "*.tmp", "--json", *argv).json()
        return [r["id"] for r in out["rewritten"]] + out["unchanged"]

    assert chosen() == [a, b, c]
    assert chosen("--host", "beta") == [b, c]
    assert chosen("--tag", "db") == [a]
    assert chosen("--path", f"{src}/docs/") == [b]
    assert chosen("--path", str(src / "docs"), "--path", str(src / "app")) == []
    assert chosen(c[:10], c) == [c]


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        (("rewrite",), 64, "nothing to do: no exclude patterns"),
        (("rewrite", "latest", "--exclude", "  "), 64, "nothing to do"),
        (("rewrite", "--exclude"), 64, "expected one argument"),
        (("rewrite", "0123456789", "--exclude", "x"), 21, "no snapshot matches '0123456789'"),
        (("rewrite", "--exclude-file", "/nonexistent/patterns"), 23, "cannot read exclude file"),
    ],
)
def test_rewrite_bad_input_changes_nothing(
    local_kaikyo: Kaikyo, src: Path, argv: tuple[str, ...], code: int, needle: str
) -> None:
    sid = local_kaikyo.backup(src)["snapshot_id"]
    if sid.startswith("0123456789"):
        pytest.skip("the snapshot's id is the unknown one")
    objects = stored(local_kaikyo)
    assert_error(local_kaikyo(*argv, expect=None), code, needle)
    assert stored(local_kaikyo) == objects


def test_an_unreadable_tree_stops_the_rewrite_before_anything_is_saved(
    local_kaikyo: Kaikyo, src: Path
) -> None:
    k = local_kaikyo
    sid = k.backup(src)["snapshot_id"]
    docs = node_at(k, snapshots(k)[sid]["tree"], src / "docs")["subtree"]
    spoil_tree(k, docs)
    objects = stored(k, "snapshots")
    run = k("rewrite", "--exclude", "*.tmp", expect=None)
    assert_error(run, 15, f"tree {docs[:8]} at {src / 'docs'} is unreadable", "nothing was")
    assert stored(k, "snapshots") == objects


def test_rewrite_with_a_backup_token_saves_but_cannot_forget(
    haven: Haven, src: Path, tmp_path: Path
) -> None:
    k = haven.new(tmp_path / "cache").init()
    first = k.backup(src)["snapshot_id"]
    (src / "big").write_bytes(os.urandom(1000))
    second = k.backup(src)["snapshot_id"]
    backup_token = {"KAIKYO_TOKEN": haven.proc.token(TENANT, "backup")}
    # Without --forget a backup token is enough: new manifests only.
    [tagged] = k("rewrite", first, "--exclude", "*.tmp", "--json", env=backup_token).json()[
        "rewritten"
    ]
    assert set(snapshots(k)) == {first, second, tagged["new"]}
    run = k("rewrite", first, "--forget", "--exclude", SECRET_DIR, env=backup_token, expect=None)
    line = assert_error(run, 17, "could not remove the old manifest", f"snapshots/{first}")
    assert f"admin token: 'kaikyo forget {first[:8]}'" in line
    assert run.out.splitlines()[-1] == "rewrote 0 snapshot(s)"
    now = snapshots(k)
    [saved] = set(now) - {first, second, tagged["new"]}
    assert now[saved]["original"] == first
    # The owner's admin token finishes the job; the manifest already saved is reused.
    done = k("rewrite", "--forget", "--exclude", SECRET_DIR, "--json").json()
    by_old = {r["old"]: r for r in done["rewritten"]}
    assert by_old[first]["new"] == saved and by_old[first]["saved"] is False
    assert by_old[second]["saved"] is True
    final = snapshots(k)
    assert first not in final and second not in final
    assert len(final) == 3  # the tagged one, and one for each old snapshot
    assert all(not any(SECRET_DIR in f for f in listed(k, sid)) for sid in final)
