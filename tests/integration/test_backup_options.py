"""backup's options: --dry-run, -x/--one-file-system, --exclude-file, --tag, --host."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import Kaikyo


def _objects(repo: Path) -> set[str]:
    return {
        str(p.relative_to(repo))
        for p in repo.rglob("*")
        if p.is_file() and not p.name.endswith(".tmp")
    }


def _tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "keep").mkdir(parents=True)
    (src / "keep" / "a.txt").write_text("a" * 5000)
    (src / "keep" / "b.log").write_text("log line\n" * 100)
    (src / "cache").mkdir()
    (src / "cache" / "big.bin").write_bytes(os.urandom(200_000))
    return src


def test_dry_run_stores_nothing(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = _tree(tmp_path)
    before = _objects(kaikyo.repo)
    doc = kaikyo("backup", "--dry-run", "--json", src).json()
    assert doc["snapshot_id"] is None and doc["dry_run"] is True
    assert doc["summary"]["files_new"] == 3 and doc["summary"]["data_added"] > 200_000
    assert {o for o in _objects(kaikyo.repo) if not o.startswith("locks/")} == {
        o for o in before if not o.startswith("locks/")
    }
    assert kaikyo("snapshots", "--json").json() == []


def test_exclude_file_tag_and_host(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = _tree(tmp_path)
    patterns = tmp_path / "excludes"
    patterns.write_text("# comment\n*.log\n\ncache\n")
    sid = kaikyo(
        "backup",
        "--json",
        "--exclude-file",
        patterns,
        "--tag",
        "nightly",
        "--tag",
        "夜間",
        "--host",
        "tokyo-db-01",
        src,
    ).json()["snapshot_id"]
    paths = {e["path"] for e in kaikyo("ls", "--json", sid).json()}
    assert f"{src}/keep/a.txt" in paths
    assert f"{src}/keep/b.log" not in paths and f"{src}/cache" not in paths
    [snap] = kaikyo("snapshots", "--json", "--tag", "夜間").json()
    assert snap["hostname"] == "tokyo-db-01" and snap["tags"] == ["nightly", "夜間"]
    assert kaikyo("snapshots", "--json", "--host", "elsewhere").json() == []
    # --path (restic's): snapshots that include every path given, compared normalised.
    assert [s["id"] for s in kaikyo("snapshots", "--json", "--path", f"{src}/").json()] == [sid]
    assert kaikyo("snapshots", "--json", "--path", src, "--path", "/etc").json() == []
    run = kaikyo("backup", "--exclude-file", tmp_path / "missing", src, expect=23)
    assert run.err.count("kaikyo: error:") == 1


def test_one_file_system_keeps_the_mount_point_not_its_contents(
    kaikyo: Kaikyo, tmp_path: Path
) -> None:
    src = _tree(tmp_path)
    mnt = src / "mnt"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        (mnt / "other-fs.txt").write_text("on another filesystem\n")
        crossing = kaikyo("backup", "--json", src).json()["snapshot_id"]
        staying = kaikyo("backup", "--json", "-x", src).json()["snapshot_id"]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    crossed = {e["path"] for e in kaikyo("ls", "--json", crossing).json()}
    stayed = {e["path"] for e in kaikyo("ls", "--json", staying).json()}
    assert f"{mnt}/other-fs.txt" in crossed
    assert f"{mnt}" in stayed and f"{mnt}/other-fs.txt" not in stayed
    assert f"{src}/keep/a.txt" in stayed


def test_alternating_path_sets_keep_their_files_cache(kaikyo: Kaikyo, tmp_path: Path) -> None:
    """backup A, backup B, backup A: the third reads nothing (Borg keeps unseen entries for a
    while too); a file changed meanwhile is still read."""
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "f.bin").write_bytes(os.urandom(50_000))
        (d / "g.txt").write_text("海峡 " * 1000)
    kaikyo("backup", "--json", a).json()
    kaikyo("backup", "--json", b).json()
    doc = kaikyo("backup", "--json", a).json()
    assert doc["summary"]["bytes_read"] == 0 and doc["summary"]["files_unmodified"] == 2
    (b / "g.txt").write_text("changed")
    doc = kaikyo("backup", "--json", b).json()
    assert doc["summary"]["files_unmodified"] == 1 and doc["summary"]["bytes_read"] == 7


def test_names_are_printed_as_they_are(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    """Tags, paths and hosts are never read as rich markup or emoji codes (before: "[/]"
    raised a MarkupError with a traceback, "[b]" vanished, ":smile:" became a picture)."""
    src = tmp_path / "[b]d:smile:"
    src.mkdir()
    (src / "[x]y").write_text("x")
    local_kaikyo("backup", "--tag", "[/]", "--tag", ":smile:", "--host", "[b]h", src)
    table = local_kaikyo("snapshots").out
    assert "[/]" in table and ":smile:" in table and "[b]h" in table, table
    assert "😄" not in table
    listing = local_kaikyo("ls", "latest").out
    assert f"{src}/[x]y" in listing, listing


def test_an_unwritable_cache_warns_and_the_backup_still_succeeds(
    local_kaikyo: Kaikyo, tmp_path: Path
) -> None:
    src = _tree(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {"KAIKYO_CACHE_DIR": str(blocker / "cache")}
    doc = local_kaikyo("backup", "--json", src, env=env).json()
    assert doc["snapshot_id"] and doc["cache_problem"] and str(blocker) in doc["cache_problem"]
    run = local_kaikyo("backup", src, env=env)
    [line] = [ln for ln in run.err.splitlines() if "files cache" in ln]
    assert line.startswith("kaikyo: warning: the files cache was not saved")
    assert "KAIKYO_CACHE_DIR" in line
    ok = local_kaikyo("backup", "--json", src).json()  # a usable cache: nothing to report
    assert ok["cache_problem"] is None
