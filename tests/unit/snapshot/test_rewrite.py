"""The rewrite engine on a real repository: what it drops, which trees it writes again, and
the manifest it makes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaikyo.core.format.tree import NodeType, TreeNode, decode_nodes, encode_nodes
from kaikyo.errors import IntegrityError
from kaikyo.repo import Repository, RepositoryWriter, SnapshotRecord
from kaikyo.snapshot.backup import BackupOptions, run_backup
from kaikyo.snapshot.filters import ExcludeMatcher
from kaikyo.snapshot.rewrite import (
    REWRITE_TAG,
    Removed,
    TreeRewriter,
    corrected_summary,
    find_saved,
    plan_changes,
    rewritten_doc,
)
from kaikyo.snapshot.trees import resolve, walk


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def backed_up(repository: Repository, tmp_path: Path) -> tuple[Repository, Path, SnapshotRecord]:
    src = tmp_path / "src"
    _write(src / "keep" / "a.txt", b"a" * 1000)
    _write(src / "keep" / "深い" / "b.txt", b"b" * 10)
    _write(src / "docs" / "private" / "秘密.pem", b"secret" * 100)
    _write(src / "docs" / "private" / "sub" / "more.pem", b"more")
    _write(src / "docs" / "readme", b"read me")
    os.symlink("readme", src / "docs" / "link")
    result = run_backup(repository, BackupOptions(paths=(os.fsencode(src),), time=1.0))
    repository.load_index()
    [record] = repository.list_snapshots()
    assert record.snapshot_id == result.snapshot_id
    return repository, src, record


def _subtree(repo: Repository, root: str | bytes, path: bytes) -> bytes:
    root_hex = root if isinstance(root, str) else root.hex()
    _, node, tree = resolve(repo, root_hex, path)
    assert node is not None and tree is not None
    return tree


def _rewriter(
    repo: Repository, *patterns: str
) -> tuple[TreeRewriter, list[bytes], RepositoryWriter]:
    """A rewriter over the repository's writer, and the trees it saves."""
    writer = repo.writer()
    saved: list[bytes] = []

    def save(raw: bytes) -> bytes:
        saved.append(raw)
        return writer.save_tree(raw)

    return TreeRewriter(repo, ExcludeMatcher(patterns), save), saved, writer


def test_drops_matches_and_writes_only_the_trees_on_their_way(
    backed_up: tuple[Repository, Path, SnapshotRecord],
) -> None:
    repo, src, record = backed_up
    rewriter, saved, writer = _rewriter(repo, "private")
    done = rewriter.rewrite(bytes.fromhex(record.doc["tree"]))
    writer.flush()
    private = os.fsencode(src / "docs" / "private")
    assert done.removed == (Removed(private, NodeType.DIR, files=2, dirs=2, bytes=604),)
    # One new tree per directory from the root down to docs: the root, tmp..., src, docs.
    assert len(saved) == rewriter.trees_saved == len(src.parts) + 1
    old_root, new_root = record.doc["tree"], done.tree
    keep = os.fsencode(src / "keep")
    assert _subtree(repo, old_root, keep) == _subtree(repo, new_root, keep)
    docs = os.fsencode(src / "docs")
    assert _subtree(repo, old_root, docs) != _subtree(repo, new_root, docs)
    paths = {p for p, _ in walk(repo, new_root)}
    assert os.fsencode(src / "docs" / "readme") in paths
    assert os.fsencode(src / "docs" / "link") in paths
    assert not any(p.startswith(private) for p in paths)
    # Everything else is as it was, node for node.
    before = {p: n for p, n in walk(repo, old_root) if not p.startswith(private)}
    after = dict(walk(repo, new_root))
    assert before.keys() == after.keys()
    changed = {p for p in before if before[p] != after[p]}
    assert all(before[p].is_dir for p in changed)


def test_nothing_matches_nothing_written(
    backed_up: tuple[Repository, Path, SnapshotRecord],
) -> None:
    repo, _, record = backed_up
    rewriter, saved, writer = _rewriter(repo, "*.absent", "/nowhere")
    changes, unchanged = plan_changes(rewriter, [record], forget=False)
    assert changes == [] and unchanged == [record] and saved == []


def test_patterns_follow_the_path_not_the_tree_id(repository: Repository, tmp_path: Path) -> None:
    """Two identical directories share one tree id; an anchored pattern removes a file from
    one of them only (the memo is keyed by path and id)."""
    src = tmp_path / "src"
    for top in ("x", "y"):
        _write(src / top / "d" / "f", b"same")
        _write(src / top / "d" / "g", b"same too")
        for path in (src / top / "d" / "f", src / top / "d" / "g", src / top / "d"):
            os.utime(path, ns=(10**18, 10**18))  # the same metadata: the same tree
    run_backup(repository, BackupOptions(paths=(os.fsencode(src),), time=1.0))
    repository.load_index()
    [record] = repository.list_snapshots()
    x_d, y_d = os.fsencode(src / "x" / "d"), os.fsencode(src / "y" / "d")
    assert _subtree(repository, record.doc["tree"], x_d) == _subtree(
        repository, record.doc["tree"], y_d
    )
    rewriter, _, writer = _rewriter(repository, os.fsdecode(y_d) + "/f")
    done = rewriter.rewrite(bytes.fromhex(record.doc["tree"]))
    writer.flush()
    assert [r.path for r in done.removed] == [y_d + b"/f"]
    names = {p for p, _ in walk(repository, done.tree)}
    assert x_d + b"/f" in names and y_d + b"/f" not in names and y_d + b"/g" in names


def test_a_tree_deeper_than_the_python_stack(repository: Repository) -> None:
    writer = repository.writer()
    leaf = writer.save_tree(
        encode_nodes(
            [
                TreeNode(b"drop.me", NodeType.FILE, size=3, content=b""),
                TreeNode(b"stay", NodeType.FILE, size=1, content=b""),
            ]
        )
    )
    tree = leaf
    for _ in range(1500):
        tree = writer.save_tree(encode_nodes([TreeNode(b"d", NodeType.DIR, subtree=tree)]))
    writer.flush()
    rewriter, saved, writer = _rewriter(repository, "*.me")
    done = rewriter.rewrite(tree)
    assert len(saved) == 1501
    assert done.removed == (Removed(b"/d" * 1500 + b"/drop.me", NodeType.FILE, files=1, bytes=3),)
    writer.flush()
    bottom = done.tree
    for _ in range(1500):
        [node] = decode_nodes(repository.load_blob(bottom))
        assert node.subtree is not None
        bottom = node.subtree
    assert [n.name for n in decode_nodes(repository.load_blob(bottom))] == [b"stay"]


def test_an_unreadable_tree_stops_before_anything_is_saved(repository: Repository) -> None:
    writer = repository.writer()
    missing = bytes(range(32))  # named, never stored
    root = writer.save_tree(encode_nodes([TreeNode(b"gone", NodeType.DIR, subtree=missing)]))
    writer.flush()
    rewriter, saved, writer = _rewriter(repository, "x")
    with pytest.raises(IntegrityError, match="at /gone is unreadable.*nothing was rewritten"):
        rewriter.rewrite(root)
    assert saved == []


# ---- the manifest ------------------------------------------------------------------------


def _record(**doc: object) -> SnapshotRecord:
    base: dict[str, object] = {"time": 5.0, "tree": "ab" * 32, "hostname": "h", "tags": ["夜"]}
    return SnapshotRecord("cd" * 32, {**base, **doc}, None)


def test_new_manifest_as_restic_writes_it() -> None:
    removed = (
        Removed("/a/秘密".encode(), NodeType.DIR, files=3, dirs=2, other=1, bytes=300),
        Removed(b"/a/f", NodeType.FILE, files=1, bytes=20),
    )
    summary = {"files_new": 9, "files_unmodified": 1, "dirs": 5, "other": 1, "bytes_total": 1000}
    record = _record(summary=summary, original="ef" * 32, paths=["/a"], program="kaikyo 0.1")
    doc = rewritten_doc(record, b"\x01" * 32, removed, forget=False)
    assert doc["tree"] == "01" * 32
    assert doc["original"] == record.snapshot_id  # restic: the manifest it replaces
    assert doc["tags"] == ["夜", REWRITE_TAG]
    assert {k: doc[k] for k in ("time", "hostname", "paths", "program")} == {
        "time": 5.0,
        "hostname": "h",
        "paths": ["/a"],
        "program": "kaikyo 0.1",
    }
    assert doc["summary"] == {
        "files_new": 9,
        "files_unmodified": 1,
        "dirs": 3,
        "other": 0,
        "bytes_total": 680,
        "files_removed": 4,
    }
    assert record.doc["summary"] == summary  # the old one untouched
    forgotten = rewritten_doc(record, b"\x01" * 32, removed, forget=True)
    assert forgotten["tags"] == ["夜"]  # restic: no tag when the old one goes
    again = rewritten_doc(SnapshotRecord("aa" * 32, doc, None), b"\x02" * 32, removed, forget=False)
    assert again["tags"] == ["夜", REWRITE_TAG]  # once
    assert again["summary"]["files_removed"] == 8


def test_summary_without_totals_is_left_alone() -> None:
    removed = [Removed(b"/f", NodeType.FILE, files=1, bytes=5)]
    assert corrected_summary({}, removed) == {}
    assert corrected_summary("odd", removed) == "odd"
    odd = {"bytes_total": 2, "dirs": True, "other": "1", "files_removed": "x"}
    assert corrected_summary(odd, removed) == {
        "bytes_total": 0,  # never below zero
        "dirs": True,  # not a count: left as it was
        "other": "1",
        "files_removed": 1,
    }
    assert "summary" not in rewritten_doc(_record(), b"\x01" * 32, tuple(removed), forget=True)


def test_find_saved_matches_the_exact_manifest_only() -> None:
    record = _record(summary={"bytes_total": 4})
    doc = rewritten_doc(record, b"\x03" * 32, (), forget=False)
    saved = SnapshotRecord("11" * 32, {**doc, "time": 5}, None)  # 5 == 5.0 in JSON terms
    other = SnapshotRecord("22" * 32, {**doc, "tags": ["夜"]}, None)
    assert find_saved(doc, [record, other, saved]) == "11" * 32
    assert find_saved(doc, [record, other]) is None
