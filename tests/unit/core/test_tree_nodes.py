"""Typed tree nodes: to_doc and from_doc are inverse on every stored node, so a tree's bytes,
and with them its id, are what the dict form gave; what is malformed is refused by name."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaikyo.core.format.tree import (
    NodeType,
    TreeNode,
    decode_nodes,
    decode_tree,
    encode_nodes,
    encode_tree,
    put_bytes,
)
from kaikyo.errors import IntegrityError

names = st.binary(min_size=1, max_size=30).filter(lambda b: b"/" not in b)
u64 = st.integers(0, 2**63 - 1)
ids = st.binary(min_size=32, max_size=32)
xattr = st.tuples(st.text(min_size=1, max_size=10), st.binary(max_size=20)).map(
    lambda t: [t[0], base64.b64encode(t[1]).decode()]
)


@st.composite
def stored_nodes(draw: st.DrawFn) -> dict[str, Any]:
    """A node as any version of backup stores it: keys present or absent, names and targets
    as text or base64, plus keys this version does not know."""
    kind = draw(st.sampled_from([t.value for t in NodeType]))
    doc: dict[str, Any] = {"type": kind}
    put_bytes(doc, "name", draw(names))
    for key in ("mode", "uid", "gid", "mtime", "size", "inode", "dev", "links", "rdev"):
        if draw(st.booleans()):
            doc[key] = draw(u64)
    for key in ("user", "group"):
        if draw(st.booleans()):
            doc[key] = draw(st.text(max_size=12))
    if kind == "file":
        doc["content"] = [i.hex() for i in draw(st.lists(ids, max_size=4))]
        if draw(st.booleans()):
            doc["sparse"] = True
    if kind == "dir":
        doc["subtree"] = draw(ids).hex()
    if kind == "symlink":
        put_bytes(doc, "target", draw(st.binary(min_size=1, max_size=40)))
    if draw(st.booleans()):
        doc["xattrs"] = draw(st.lists(xattr, min_size=1, max_size=3))
    if draw(st.booleans()):
        doc["future_" + draw(st.text("abc", min_size=1, max_size=4))] = draw(u64)
    return doc


@settings(max_examples=300)
@given(st.lists(stored_nodes(), max_size=6))
def test_typed_nodes_write_the_same_bytes(docs: list[dict[str, Any]]) -> None:
    raw = encode_tree(docs)
    nodes = decode_nodes(raw)
    assert [n.to_doc() for n in nodes] == decode_tree(raw)
    assert encode_nodes(nodes) == raw


def test_ids_names_and_targets_are_bytes_in_memory() -> None:
    target = "ターゲット".encode() + b"\xff"
    doc: dict[str, Any] = {"type": "symlink", "mode": 0o777}
    put_bytes(doc, "name", b"\x80link")
    put_bytes(doc, "target", target)
    node = TreeNode.from_doc(doc)
    assert node.type is NodeType.SYMLINK
    assert node.name == b"\x80link" and node.target == target
    assert "target_b" in node.to_doc() and "name_b" in node.to_doc()
    d = TreeNode.from_doc({"type": "dir", "name": "d", "subtree": "ab" * 32})
    assert d.is_dir and d.subtree == bytes.fromhex("ab" * 32)
    f = TreeNode.from_doc({"type": "file", "name": "f", "content": ["01" * 32, "02" * 32]})
    assert f.content == bytes.fromhex("01" * 32 + "02" * 32)
    assert f.blob_ids() == [bytes.fromhex("01" * 32), bytes.fromhex("02" * 32)]


@pytest.mark.parametrize(
    ("doc", "what"),
    [
        ({"type": "file"}, "no name"),
        ({"type": "whiteout", "name": "x"}, "unknown type"),
        ({"type": "file", "name": "x", "size": "12"}, "'size' is not an integer"),
        ({"type": "file", "name": "x", "mode": True}, "'mode' is not an integer"),
        ({"type": "file", "name": "x", "content": ["zz"]}, "malformed content id"),
        ({"type": "file", "name": "x", "content": ["zz" * 32]}, "malformed content id"),
        ({"type": "file", "name": "x", "content": "ab" * 32}, "malformed content id"),
        ({"type": "dir", "name": "x", "subtree": 7}, "malformed subtree id"),
        ({"type": ["file"], "name": "x"}, "unknown type"),
        ({"type": "file", "name": "x", "user": 0}, "'user' is not text"),
        ({"type": "file", "name": "x", "xattrs": [["a"]]}, "'xattrs' is malformed"),
        ("a node", "not an object"),
    ],
)
def test_malformed_nodes_are_refused_by_name(doc: object, what: str) -> None:
    with pytest.raises(IntegrityError, match=what):
        TreeNode.from_doc(doc)
