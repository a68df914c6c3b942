"""Restore onto a target that already holds a tree: --overwrite MODE, --delete, --dry-run.

The zoo (every kind of entry and metadata) is restored, then the copy is changed the ways a
migration or a fail-back meets (content changed in place, appended, truncated, files added
and removed, a file where a directory was and the other way round, modes and times changed,
symlinks moved), and a second restore must make it the snapshot again, byte- and
metadata-exact, downloading and writing only what differs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kaikyo.testing.compare import assert_trees_equal, compare_trees, scan
from kaikyo.testing.trees import JAPANESE_NAME, try_setxattr

from .conftest import ZooRepo

MIB = 1 << 20


def _restored(zoo_repo: ZooRepo, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    zoo_repo.k.restore(zoo_repo.ref(), out)
    assert_trees_equal(zoo_repo.zoo.root, out)
    return out


def _poke(path: Path, offset: int, data: bytes) -> None:
    """Change bytes in place, keeping the file's size and (deliberately) its mtime."""
    st = os.stat(path)
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _mangle(out: Path) -> None:
    """Everything a copy that lived on meets."""
    big = out / "random-big.bin"
    with open(big, "r+b") as fh:  # 4 KiB changed in the middle: one chunk differs
        fh.seek(os.path.getsize(big) // 2)
        fh.write(b"\x00changed\x00" * 400)
    with open(out / "compressible.txt", "ab") as fh:  # appended
        fh.write(b"a line that was not there\n" * 100)
    os.truncate(out / "chunk-min-plus-1", 10)  # truncated
    (out / "names" / JAPANESE_NAME).unlink()  # deleted: restored again
    (out / "extra.txt").write_bytes(b"not in the snapshot")  # added: --delete removes it
    (out / "extra-dir" / "deeper").mkdir(parents=True)
    (out / "extra-dir" / "deeper" / "f").write_bytes(b"x")
    shutil.rmtree(out / "modes" / "sticky")  # a file where the snapshot has a directory
    (out / "modes" / "sticky").write_bytes(b"not a dir")
    (out / "one-byte").unlink()  # a directory where the snapshot has a file
    (out / "one-byte" / "inside").mkdir(parents=True)
    os.chmod(out / "modes" / "private", 0o666)  # metadata only
    os.utime(out / "empty", ns=(0, 0))
    (out / "link-to-file").unlink()  # a symlink moved
    os.symlink("elsewhere", out / "link-to-file")
    (out / "fifo").unlink()  # a special replaced by a file
    (out / "fifo").write_bytes(b"fifo no more")
    for stray in (out / "compressible.txt", out / "empty", out / "names"):
        try_setxattr(stray, "user.stray", b"set after the restore")  # removed again


def test_overwrite_delete_makes_the_target_the_snapshot(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = _restored(zoo_repo, tmp_path)
    _mangle(out)
    assert compare_trees(zoo_repo.zoo.root, out)  # the copy really differs
    run = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "--delete", "--json")
    summary = run.json()
    assert_trees_equal(zoo_repo.zoo.root, out)
    assert summary["message_type"] == "summary"
    assert summary["files_deleted"] == 2  # extra.txt and extra-dir (with what is below it)
    assert summary["files_restored"] == 1  # the Japanese name
    # random-big, compressible, chunk-min-plus-1, one-byte (a dir in the way), the fifo's
    # path holds a file where a fifo belongs: not a file of the plan.
    assert summary["files_updated"] == 4
    assert summary["files_unchanged"] > 10
    # Only the chunks that differ: far less than the zoo's file data.
    total = sum(zoo_repo.zoo.files.values())
    assert summary["bytes_written"] < total // 4
    assert 0 < summary["bytes_downloaded"] < total // 4


def test_verify_checks_what_was_written_onto_the_tree(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = _restored(zoo_repo, tmp_path)
    _mangle(out)
    r = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "--delete", "--verify", "--json")
    assert r.json()["verified"] > 0
    assert_trees_equal(zoo_repo.zoo.root, out)


def test_a_second_restore_onto_the_snapshot_changes_nothing(
    zoo_repo: ZooRepo, tmp_path: Path
) -> None:
    out = _restored(zoo_repo, tmp_path)
    run = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "--delete", "--json")
    summary = run.json()
    assert summary["bytes_written"] == 0
    assert summary["bytes_downloaded"] == 0
    assert summary["files_deleted"] == 0
    assert summary["files_updated"] == summary["files_restored"] == 0
    assert_trees_equal(zoo_repo.zoo.root, out)


def test_dry_run_writes_nothing_and_tells_what_a_run_does(
    zoo_repo: ZooRepo, tmp_path: Path
) -> None:
    out = _restored(zoo_repo, tmp_path)
    _mangle(out)
    before = scan(out)
    dry = zoo_repo.k.restore(
        zoo_repo.ref(), out, "--overwrite", "--delete", "--dry-run", "--json"
    ).json()
    assert_trees_equal(before, out, root_meta=True)  # nothing changed, not even a marker
    assert dry["dry_run"] is True and dry["bytes_written"] == 0
    real = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "--delete", "--json").json()
    for key in (
        "files_restored",
        "files_updated",
        "files_unchanged",
        "files_deleted",
        "bytes_downloaded",
    ):
        assert dry[key] == real[key], key
    assert 0 < real["bytes_written"] <= dry["bytes_to_write"]  # blocks that differ, at most


def test_dry_run_verbose_lists_each_fate(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = _restored(zoo_repo, tmp_path)
    _mangle(out)
    run = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "--delete", "-n", "-v")
    lines = run.out.splitlines()
    assert any(ln.startswith("deleted") and ln.endswith("extra.txt") for ln in lines)
    assert any(ln.startswith("updated") and ln.endswith("random-big.bin") for ln in lines)
    assert any(ln.startswith("restored") and ln.endswith(JAPANESE_NAME) for ln in lines)
    assert any(ln.startswith("unchanged") and ln.endswith("zeros.bin") for ln in lines)
    assert "would restore" in lines[-1] and "nothing was written" in lines[-1]
    assert (out / "extra.txt").exists()


def test_if_changed_trusts_size_and_mtime(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    """restic's shortcut, documented: a change that keeps size and mtime is not seen by
    if-changed; always compares content and finds it."""
    out = _restored(zoo_repo, tmp_path)
    _poke(out / "random-big.bin", 1000, b"sneaky")
    r = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "if-changed", "--json").json()
    assert r["files_updated"] == 0 and r["bytes_written"] == 0
    assert compare_trees(zoo_repo.zoo.root, out)  # still differs
    r = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "always", "--json").json()
    assert r["files_updated"] == 1
    assert 0 < r["bytes_written"] < 2 * MIB  # the one chunk, not the file
    assert_trees_equal(zoo_repo.zoo.root, out)


def test_if_newer_leaves_newer_files(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = _restored(zoo_repo, tmp_path)
    newer, older = out / "compressible.txt", out / "chunk-min"
    newer.write_bytes(b"edited after the snapshot")
    older.write_bytes(b"older than the snapshot")
    os.utime(older, ns=(0, 0))
    r = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "if-newer", "--json").json()
    assert newer.read_bytes() == b"edited after the snapshot"
    assert older.read_bytes() == (zoo_repo.zoo.root / "chunk-min").read_bytes()
    assert r["files_skipped"] >= 1 and r["files_updated"] == 1


def test_never_leaves_what_is_there_and_restores_what_is_missing(
    zoo_repo: ZooRepo, tmp_path: Path
) -> None:
    out = _restored(zoo_repo, tmp_path)
    (out / "chunk-min").write_bytes(b"mine")
    (out / "names" / JAPANESE_NAME).unlink()
    r = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "never", "--json").json()
    assert (out / "chunk-min").read_bytes() == b"mine"
    assert (out / "names" / JAPANESE_NAME).read_text() == "こんにちは\n"
    assert r["files_restored"] == 1 and r["files_updated"] == 0


def test_delete_keeps_what_the_filters_do_not_select(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = _restored(zoo_repo, tmp_path)
    (out / "names" / "extra.txt").write_bytes(b"selected: goes")
    (out / "extra.txt").write_bytes(b"not selected: stays")
    zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "--delete", "--include", "/names")
    assert not (out / "names" / "extra.txt").exists()
    assert (out / "extra.txt").exists()


def test_delete_never_follows_a_symlink(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = _restored(zoo_repo, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(b"keep me")
    os.symlink(outside, out / "link-out")
    zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "--delete")
    assert not os.path.lexists(out / "link-out")
    assert (outside / "precious").read_bytes() == b"keep me"


def test_a_symlink_to_a_directory_in_the_target_is_replaced_not_followed(
    zoo_repo: ZooRepo, tmp_path: Path
) -> None:
    """Where the snapshot has a directory and the target a symlink to one, a second restore
    replaces the link by the directory and writes nothing through it."""
    out = _restored(zoo_repo, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(out / "names")
    os.symlink(outside, out / "names")
    zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "if-changed", "--delete")
    assert_trees_equal(zoo_repo.zoo.root, out)
    assert list(outside.iterdir()) == []


def test_a_hard_linked_file_is_not_changed_through_another_name(
    zoo_repo: ZooRepo, tmp_path: Path
) -> None:
    out = _restored(zoo_repo, tmp_path)
    other = tmp_path / "other-name"
    os.link(out / "chunk-min", other)
    before = other.read_bytes()
    with open(out / "chunk-min", "r+b") as fh:  # changes both names
        fh.write(b"changed")
    zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite")
    assert_trees_equal(zoo_repo.zoo.root, out)
    assert other.read_bytes()[:7] == b"changed" and other.read_bytes()[7:] == before[7:]


def test_a_non_empty_target_needs_overwrite(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = _restored(zoo_repo, tmp_path)
    run = zoo_repo.k.restore(zoo_repo.ref(), out, "--delete", expect=None)
    assert run.code != 0
    assert run.err.count("\n") == 1 and "--overwrite if-changed" in run.err


@pytest.mark.parametrize("mode", ["sometimes", ""])
def test_a_bad_overwrite_mode_is_a_usage_error(
    zoo_repo: ZooRepo, tmp_path: Path, mode: str
) -> None:
    run = zoo_repo.k.restore(zoo_repo.ref(), tmp_path / "o", f"--overwrite={mode}", expect=64)
    assert "--overwrite" in run.err and run.err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_overwrite_without_a_mode_before_the_snapshot_takes_the_snapshot(
    zoo_repo: ZooRepo, tmp_path: Path
) -> None:
    """``restore --overwrite SNAPSHOT -t DIR``, as restic's users write it: MODE is
    optional, so the snapshot is read back from the flag and the mode is ``always``."""
    out = _restored(zoo_repo, tmp_path)
    _mangle(out)
    zoo_repo.k("restore", "--overwrite", zoo_repo.ref(), "--target", out, "--delete")
    assert_trees_equal(zoo_repo.zoo.root, out)


@pytest.mark.parametrize(
    "argv",
    [
        ["--overwrite", "sometimes", "SNAP"],  # a wrong mode, with a snapshot
        ["--overwrite="],  # an empty mode and no snapshot
        [],  # no snapshot at all
    ],
)
def test_a_missing_snapshot_or_wrong_mode_is_one_usage_line(
    zoo_repo: ZooRepo, tmp_path: Path, argv: list[str]
) -> None:
    argv = [zoo_repo.ref() if a == "SNAP" else a for a in argv]
    run = zoo_repo.k("restore", *argv, "--target", tmp_path / "o", expect=64)
    assert run.err.count("\n") == 1 and ("--overwrite" in run.err or "snapshot" in run.err)
    assert not (tmp_path / "o").exists()


def test_nothing_is_read_kept_or_removed_through_a_symlinked_directory(
    zoo_repo: ZooRepo, tmp_path: Path
) -> None:
    """The target's "names" is a link to a directory outside, where a directory stands at the
    path of one of the snapshot's files: the restore replaces the link, and everything
    outside stays as it was."""
    out = _restored(zoo_repo, tmp_path)
    outside = tmp_path / "outside"
    shutil.copytree(out / "names", outside, symlinks=True)
    (outside / JAPANESE_NAME).unlink()
    (outside / JAPANESE_NAME / "precious").mkdir(parents=True)
    (outside / "-dash").write_bytes(b"changed outside")
    shutil.rmtree(out / "names")
    os.symlink(outside, out / "names")
    before = scan(outside)
    r = zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite", "--delete", "--json").json()
    assert_trees_equal(zoo_repo.zoo.root, out)
    assert_trees_equal(before, outside, root_meta=True)
    assert r["files_deleted"] == 0
