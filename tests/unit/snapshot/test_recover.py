"""The recover engine on a real repository: which trees are roots, and the snapshot it saves."""

from __future__ import annotations

import os
from pathlib import Path

from kaikyo.core.constants import SNAPSHOT_PREFIX
from kaikyo.core.format.tree import NodeType, decode_nodes
from kaikyo.repo import Repository, pack_name
from kaikyo.snapshot.backup import BackupOptions, run_backup
from kaikyo.snapshot.recover import (
    RECOVER_PATH,
    RECOVER_TAG,
    recovered_nodes,
    run_recover,
    scan_trees,
)
from kaikyo.snapshot.trees import resolve, walk
from kaikyo.store.local import LocalStore

META = {"hostname": "h", "username": "u"}


def _backup(repo: Repository, src: Path, time: float) -> tuple[str, str]:
    result = run_backup(repo, BackupOptions(paths=(os.fsencode(src),), time=time))
    repo.load_index()
    assert result.snapshot_id is not None
    return result.snapshot_id, result.tree


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "a" / "海").mkdir(parents=True)
    (src / "a" / "海" / "f").write_bytes(b"f" * 100)
    (src / "b").mkdir()
    (src / "b" / "g").write_bytes(b"g")
    return src


def test_the_lost_snapshots_root_is_the_only_root(repository: Repository, tmp_path: Path) -> None:
    src = _src(tmp_path)
    first, first_tree = _backup(repository, src, 1.0)
    (src / "b" / "g").write_bytes(b"changed")
    _, second_tree = _backup(repository, src, 2.0)
    assert scan_trees(repository, repository.list_snapshots()).roots == []
    repository.store.delete(SNAPSHOT_PREFIX + first)
    scan = scan_trees(repository, repository.list_snapshots())
    assert scan.roots == [bytes.fromhex(first_tree)] and scan.unreadable == {}
    # Every distinct tree of both snapshots was read once.
    trees = {n.subtree for t in (first_tree, second_tree) for _, n in walk(repository, t)}
    assert scan.trees == len(trees - {None}) + 2


def test_recover_saves_a_snapshot_that_reaches_the_data(
    repository: Repository, tmp_path: Path
) -> None:
    src = _src(tmp_path)
    sid, tree = _backup(repository, src, 1.0)
    assert run_recover(repository, META, 9.0).snapshot_id is None  # nothing to recover
    assert [r.snapshot_id for r in repository.list_snapshots()] == [sid]
    repository.store.delete(SNAPSHOT_PREFIX + sid)
    result = run_recover(repository, META, 9.0)
    assert result.scan.roots == [bytes.fromhex(tree)]
    [record] = repository.list_snapshots()
    assert record.snapshot_id == result.snapshot_id
    assert record.doc["paths"] == [RECOVER_PATH] and record.doc["tags"] == [RECOVER_TAG]
    assert record.doc["time"] == 9.0 and record.doc["hostname"] == "h"
    [node] = decode_nodes(repository.load_blob(bytes.fromhex(record.doc["tree"])))
    assert node.name == tree[:8].encode() and node.subtree == bytes.fromhex(tree)
    assert node.type is NodeType.DIR and node.mtime == 9 * 10**9
    path = b"/" + tree[:8].encode() + os.fsencode(src / "a" / "海" / "f")
    _, found, _ = resolve(repository, record.doc["tree"], path)
    assert found is not None and found.size == 100
    # Now everything is referenced again.
    assert run_recover(repository, META, 10.0).snapshot_id is None


def test_below_an_unreadable_tree_is_recovered_in_its_place(
    repository: Repository, tmp_path: Path
) -> None:
    src = _src(tmp_path)
    sid, tree = _backup(repository, src, 1.0)
    repository.store.delete(SNAPSHOT_PREFIX + sid)
    root = bytes.fromhex(tree)
    [child] = [n.subtree for n in decode_nodes(repository.load_blob(root))]
    assert child is not None
    loc = repository.index.lookup(root)
    assert loc is not None
    assert isinstance(repository.store, LocalStore)
    spoiled = repository.store.root / pack_name(loc.pack_id)
    data = bytearray(spoiled.read_bytes())
    data[loc.offset + loc.length // 2] ^= 0xFF
    spoiled.chmod(0o644)
    spoiled.write_bytes(bytes(data))
    scan = scan_trees(repository, [])
    assert set(scan.unreadable) == {root}
    assert scan.roots == [child]  # the other trees of the pack were still read


def test_roots_sharing_a_short_id_are_named_in_full() -> None:
    a, b, c = b"\xaa" * 32, b"\xaa" * 4 + b"\x01" * 28, b"\x01" * 32
    nodes = recovered_nodes([a, b, c], 5)
    assert [n.name for n in nodes] == [b"01010101", b.hex().encode(), a.hex().encode()]
    assert all(n.mode == 0o755 and n.mtime == 5 for n in nodes)
