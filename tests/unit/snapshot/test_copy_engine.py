"""The copy engine on repositories in memory: ids named anew, trees rewritten, copies found."""

from __future__ import annotations

import os
from typing import Any

import pytest

from kaikyo.core.constants import BLOB_DATA
from kaikyo.core.format.tree import NodeType, TreeNode, decode_nodes, encode_nodes
from kaikyo.errors import IntegrityError
from kaikyo.repo import Repository, SnapshotRecord
from kaikyo.snapshot.copy import Copies, copied_doc, run_copy
from kaikyo.snapshot.idmap import IdMap
from kaikyo.testing.repos import new_repository

# ---- the id map -------------------------------------------------------------------------


def test_idmap_names_unknown_ids_once_and_translates_in_order() -> None:
    m = IdMap()
    a, b, c = b"\x00" * 31 + b"\x01", b"\x07" * 31 + b"\x00", b"\xff" * 32  # trailing zeros kept
    assert m.unknown(b"") == b"" and m.translate(b"") == b""
    assert m.unknown(c + a + c + b) == a + b + c  # distinct, sorted
    m.add(c + a, b"C" * 32 + b"A" * 32)
    assert m.unknown(a + b + c) == b
    m.add(b, b"B" * 32)
    assert len(m) == 3
    assert m.translate(c + a + c + b) == b"C" * 32 + b"A" * 32 + b"C" * 32 + b"B" * 32
    with pytest.raises(IntegrityError, match="was not copied"):
        m.translate(a + b"\x02" * 32)
    with pytest.raises(ValueError):
        m.add(a, b"")


# ---- which snapshots are copies ----------------------------------------------------------


def _record(sid: str, **doc: Any) -> SnapshotRecord:
    base = {"time": 1.0, "hostname": "h", "username": "u", "paths": ["/a", "/b"], "tags": []}
    return SnapshotRecord(sid, {"tree": "t" * 64, **base, **doc}, None)


def test_a_copy_is_found_by_original_and_the_same_fields() -> None:
    src = _record("1" * 64, tags=["x", "y"])
    copy = SnapshotRecord("9" * 64, copied_doc(src, "e" * 64, "SRC"), None)
    assert copy.doc["original"] == src.snapshot_id and copy.doc["tree"] == "e" * 64
    copies = Copies([copy], "SRC")
    assert copies.of(src) is copy
    # Retagged in the source (same original), tags in another order: still the same.
    assert copies.of(_record("2" * 64, original="1" * 64, tags=["y", "x"])) is copy
    # Another time, host or tag set: another snapshot (as restic's similarSnapshots).
    assert copies.of(_record("2" * 64, original="1" * 64, tags=["x"])) is None
    assert copies.of(_record("2" * 64, original="1" * 64, tags=["x", "y"], time=2.0)) is None
    # The same original, but another tree than the one copied: not this copy.
    moved = _record("2" * 64, original="1" * 64, tags=["x", "y"], tree="f" * 64)
    assert copies.of(moved) is None
    # ... which a copy made from another repository cannot tell: ids differ between keys.
    assert Copies([copy], "OTHER").of(moved) is copy


def test_a_copy_retagged_in_the_destination_is_still_the_copy() -> None:
    src = _record("1" * 64, tags=["x"])
    copy = SnapshotRecord("9" * 64, copied_doc(src, "e" * 64, "SRC"), None)
    retagged = SnapshotRecord("8" * 64, {**copy.doc, "tags": ["keep"]}, None)
    assert Copies([retagged], "SRC").of(src) is retagged
    assert Copies([retagged], "OTHER").of(src) is None  # made from another repository


def test_a_copy_of_a_copy_is_recognised_by_its_own_id() -> None:
    """A -> B, then B -> C, then A -> C: C's copy carries A's id as ``original``."""
    a = _record("1" * 64)
    in_b = SnapshotRecord("2" * 64, copied_doc(a, "b" * 64, "A"), None)
    in_c = SnapshotRecord("3" * 64, copied_doc(in_b, "c" * 64, "B"), None)
    assert in_c.doc["original"] == a.snapshot_id
    assert Copies([in_c], "A").of(a) is in_c
    # And a destination snapshot whose own id is the source's original (copied by hand).
    assert Copies([a], "A").of(in_b) is a


# ---- copying ----------------------------------------------------------------------------


def _stored(repo: Repository, chunks: list[bytes]) -> list[bytes]:
    writer = repo.writer()
    data = repo.blob_writer(BLOB_DATA, writer.pack_done)
    ids = data.save_many([memoryview(c) for c in chunks])
    data.finish()
    data.close()
    writer.flush()
    writer.close()
    return ids


def _tree(repo: Repository, nodes: list[TreeNode]) -> bytes:
    writer = repo.writer()
    tid = writer.save_tree(encode_nodes(sorted(nodes, key=lambda n: n.name)))
    writer.flush()
    writer.close()
    return tid


@pytest.fixture
def source() -> tuple[Repository, SnapshotRecord, list[bytes]]:
    """A snapshot whose tree has a file of three chunks (one twice), one identical
    subdirectory in two places, a symlink, an empty file, a non-UTF-8 name and a node key
    this version does not know."""
    src = new_repository(password="source")
    src.load_index()
    chunks = [os.urandom(300_000), os.urandom(1000), b"\x00" * 70_000]
    a, b, z = _stored(src, chunks)
    leaf = _tree(src, [TreeNode(b"f", NodeType.FILE, size=1000, content=b)])
    sub = _tree(
        src,
        [
            TreeNode(b"\xff\xfename", NodeType.FILE, size=370_000, content=a + z + a),
            TreeNode(b"same1", NodeType.DIR, subtree=leaf),
            TreeNode(b"same2", NodeType.DIR, subtree=leaf, extra={"future": [1, "x"]}),
        ],
    )
    root = _tree(
        src,
        [
            TreeNode("日本語".encode(), NodeType.DIR, mode=0o755, subtree=sub),
            TreeNode(b"empty", NodeType.FILE, size=0, content=b""),
            TreeNode(b"link", NodeType.SYMLINK, target=b"\xff/nowhere"),
        ],
    )
    doc = {"time": 5.0, "hostname": "h", "paths": ["/x"], "tags": [], "tree": root.hex()}
    sid = src.save_snapshot({**doc, "parent": "0" * 64})
    [record] = src.list_snapshots()
    assert record.snapshot_id == sid
    return src, record, chunks


def _nodes(repo: Repository, tree: bytes) -> dict[bytes, TreeNode]:
    return {n.name: n for n in decode_nodes(repo.load_blob(tree))}


def test_copy_names_every_blob_anew_and_keeps_every_node(
    source: tuple[Repository, SnapshotRecord, list[bytes]],
) -> None:
    src, record, chunks = source
    dst = new_repository(password="destination")
    dst.load_index()
    result = run_copy(src, dst, [record])
    [done] = result.snapshots
    assert done.copied and done.counts["blobs_sent"] == 3 + 3  # 3 chunks, 3 distinct trees
    assert done.counts["bytes_deduplicated"] == 0
    [copy] = dst.list_snapshots()
    assert copy.snapshot_id == done.snapshot
    assert copy.doc["parent"] is None and copy.doc["original"] == record.snapshot_id
    assert copy.doc["copied_from"] == {
        "repository": src.config.repo_id,
        "snapshot": record.snapshot_id,
        "tree": record.doc["tree"],
    }
    a, b, z = (dst.hasher(c) for c in chunks)
    assert a != src.hasher(chunks[0])  # another key, another id
    top = _nodes(dst, bytes.fromhex(copy.doc["tree"]))
    assert top[b"link"].target == b"\xff/nowhere" and top[b"empty"].content == b""
    assert top["日本語".encode()].mode == 0o755
    sub = _nodes(dst, top["日本語".encode()].subtree or b"")
    assert sub[b"\xff\xfename"].content == a + z + a
    assert sub[b"same1"].subtree == sub[b"same2"].subtree  # one tree, rewritten once
    assert sub[b"same2"].extra == {"future": [1, "x"]}
    leaf = _nodes(dst, sub[b"same1"].subtree or b"")
    assert leaf[b"f"].content == b
    assert [dst.load_blob(i) for i in (a, b, z)] == chunks

    # Into a third repository that holds the chunks already: only the trees are new.
    third = new_repository(password="third")
    third.load_index()
    _stored(third, chunks)
    [done] = run_copy(src, third, [record]).snapshots
    assert done.counts["blobs_sent"] == 3
    assert done.counts["bytes_deduplicated"] == sum(map(len, chunks))


def test_copy_refuses_a_source_whose_blobs_do_not_match(
    source: tuple[Repository, SnapshotRecord, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, record, _ = source
    dst = new_repository(password="destination")
    dst.load_index()
    monkeypatch.setattr(src, "hasher", lambda data: b"\x01" * 32)
    with pytest.raises(IntegrityError, match="does not match its id"):
        run_copy(src, dst, [record])
    assert dst.list_snapshots() == []


def test_copy_refuses_a_tree_naming_what_the_source_lacks() -> None:
    src = new_repository(password="source")
    src.load_index()
    (kept,) = _stored(src, [b"kept"])
    tree = _tree(src, [TreeNode(b"f", NodeType.FILE, content=kept + b"\x02" * 32)])
    wrong = _tree(src, [TreeNode(b"f", NodeType.FILE, content=tree)])  # a tree as a chunk
    dst = new_repository(password="destination")
    dst.load_index()
    for root, why in ((tree, "is missing from the index"), (wrong, "is not a data blob")):
        src.save_snapshot({"time": 1.0, "tree": root.hex()})
        record = next(r for r in src.list_snapshots() if r.doc["tree"] == root.hex())
        with pytest.raises(IntegrityError, match=why):
            run_copy(src, dst, [record])
    assert dst.list_snapshots() == []


# ---- an earlier copy --------------------------------------------------------------------


def _snapshot(repo: Repository, root: bytes, **doc: Any) -> SnapshotRecord:
    sid = repo.save_snapshot(
        {"time": 1.0, "hostname": "h", "paths": ["/"], **doc, "tree": root.hex()}
    )
    return next(r for r in repo.list_snapshots() if r.snapshot_id == sid)


def test_an_earlier_copy_spares_reading_what_it_holds() -> None:
    """A second run (a new translator, nothing in memory) reads the changed trees and the
    new chunk; the unchanged subtree and the chunks the old file had are taken from the
    earlier copy."""
    src = new_repository(password="source")
    src.load_index()
    c1, c2, c3, c4 = (os.urandom(n) for n in (5000, 6000, 7000, 8000))
    i1, i2, i3, i4 = _stored(src, [c1, c2, c3, c4])
    a = _tree(src, [TreeNode(b"a", NodeType.FILE, content=i1 + i2)])
    b = _tree(src, [TreeNode(b"b", NodeType.FILE, content=i3)])
    first = _snapshot(
        src,
        _tree(
            src, [TreeNode(b"A", NodeType.DIR, subtree=a), TreeNode(b"B", NodeType.DIR, subtree=b)]
        ),
    )
    b2 = _tree(src, [TreeNode(b"b", NodeType.FILE, content=i3 + i4 + i3)])
    second = _snapshot(
        src,
        _tree(
            src, [TreeNode(b"A", NodeType.DIR, subtree=a), TreeNode(b"B", NodeType.DIR, subtree=b2)]
        ),
        time=2.0,
    )
    dst = new_repository(password="destination")
    dst.load_index()
    run_copy(src, dst, [first])
    [done] = run_copy(src, dst, [second]).snapshots
    assert done.copied
    assert done.counts["blobs_read"] == 3  # the new root, the new B, the new chunk
    assert done.counts["bytes_read"] < 8000 + 1000
    copy = next(
        r for r in dst.list_snapshots() if r.doc["copied_from"]["snapshot"] == second.snapshot_id
    )
    top = _nodes(dst, bytes.fromhex(copy.doc["tree"]))
    [f] = _nodes(dst, top[b"B"].subtree or b"").values()
    assert f.content == b"".join(dst.hasher(c) for c in (c3, c4, c3))
    [g] = _nodes(dst, top[b"A"].subtree or b"").values()
    assert [dst.load_blob(i) for i in g.blob_ids()] == [c1, c2]


def test_an_earlier_copy_is_believed_only_for_blobs_of_the_same_length() -> None:
    """A destination manifest claims a copy whose file has another chunk: a pair whose
    lengths differ is refused, and the chunk is read from the source."""
    src = new_repository(password="source")
    src.load_index()
    x, other = os.urandom(1000), os.urandom(3000)
    ix, io = _stored(src, [x, other])
    old = _tree(src, [TreeNode(b"f", NodeType.FILE, content=ix)])
    new = _tree(
        src, [TreeNode(b"f", NodeType.FILE, content=ix), TreeNode(b"g", NodeType.FILE, content=io)]
    )
    dst = new_repository(password="destination")
    dst.load_index()
    (y,) = _stored(dst, [os.urandom(999)])
    claimed = _tree(dst, [TreeNode(b"f", NodeType.FILE, content=y)])
    origin = {"repository": src.config.repo_id, "snapshot": "0" * 64, "tree": old.hex()}
    dst.save_snapshot({"time": 0.5, "hostname": "h", "tree": claimed.hex(), "copied_from": origin})
    [done] = run_copy(src, dst, [_snapshot(src, new)]).snapshots
    assert done.counts["blobs_read"] == 3  # the tree and both chunks: nothing believed
    copy = next(r for r in dst.list_snapshots() if r.snapshot_id == done.snapshot)
    nodes = _nodes(dst, bytes.fromhex(copy.doc["tree"]))
    assert nodes[b"f"].content == dst.hasher(x)


@pytest.mark.parametrize("gone", ["source tree", "destination tree"])
def test_an_earlier_copy_whose_trees_are_gone_is_not_used(gone: str) -> None:
    src = new_repository(password="source")
    src.load_index()
    (chunk,) = _stored(src, [os.urandom(2000)])
    root = _tree(src, [TreeNode(b"f", NodeType.FILE, content=chunk)])
    dst = new_repository(password="destination")
    dst.load_index()
    (stored,) = _stored(dst, [os.urandom(2000)])
    claimed = _tree(dst, [TreeNode(b"f", NodeType.FILE, content=stored)])
    # The source tree is the one being copied (it would settle it at once), or the
    # destination's exists (its chunk would be paired): each with the other one missing.
    old, new = (b"\x06" * 32, claimed) if gone == "source tree" else (root, b"\x05" * 32)
    origin = {"repository": src.config.repo_id, "snapshot": "0" * 64, "tree": old.hex()}
    dst.save_snapshot({"time": 0.5, "hostname": "h", "tree": new.hex(), "copied_from": origin})
    [done] = run_copy(src, dst, [_snapshot(src, root)]).snapshots
    assert done.counts["blobs_read"] == 2  # read, as without an earlier copy
    copy = next(r for r in dst.list_snapshots() if r.snapshot_id == done.snapshot)
    assert _nodes(dst, bytes.fromhex(copy.doc["tree"]))[b"f"].content == dst.hasher(
        src.load_blob(chunk)
    )
