"""Canonical tree serialization: one directory's nodes as JSON.

Canonical (sorted keys, nodes sorted by name bytes, no whitespace) so an unchanged directory
serialises to the same bytes and deduplicates. Byte strings that are not valid UTF-8 (file
names, symlink targets, xattr names and values) are stored base64-encoded under a ``*_b`` key;
valid UTF-8 is stored as text so ``kaikyo cat tree`` stays readable.

Node keys (absent when not applicable): ``name``/``name_b``, ``type`` (file, dir, symlink, fifo,
chardev, blockdev, socket), ``mode`` (permission and special bits), ``uid``, ``gid``, ``user``,
``group``, ``mtime`` (ns), ``size``, ``inode``/``dev``/``links`` (only for files with more
than one link), ``rdev``,
``content`` (hex blob ids), ``subtree`` (hex tree id), ``target``/``target_b`` (symlink),
``xattrs`` (list of ``[name, value_b64]``), ``sparse`` (true if the file had holes).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson

from kaikyo.errors import IntegrityError

Node = dict[str, Any]

# The canonical form is the standard library's (below); orjson writes the same bytes for every
# value a tree holds (text, 64-bit integers, booleans, lists, objects) about eight times faster,
# which matters at one tree per directory. A value it refuses (an integer beyond 64 bits) falls
# back to the reference encoder. tests/unit/core/test_tree_encoding.py holds them equal.
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_SORTED = orjson.OPT_SORT_KEYS


def put_bytes(node: Node, key: str, raw: bytes) -> None:
    """Store ``raw`` under ``key`` as text when it is UTF-8, else base64 under ``key_b``."""
    try:
        node[key] = raw.decode("utf-8")
    except UnicodeDecodeError:
        node[key + "_b"] = base64.b64encode(raw).decode("ascii")


def get_bytes(node: Node, key: str) -> bytes | None:
    text = node.get(key)
    if text is not None:
        return str(text).encode("utf-8")
    b = node.get(key + "_b")
    if b is not None:
        return base64.b64decode(b)
    return None


def node_name(node: Node) -> bytes:
    name = get_bytes(node, "name")
    if name is None:
        raise IntegrityError("tree node has no name")
    return name


def encode_tree(nodes: list[Node]) -> bytes:
    """Serialise nodes (already sorted by name bytes) canonically."""
    doc = {"nodes": nodes}
    try:
        return orjson.dumps(doc, option=_SORTED)
    except (orjson.JSONEncodeError, TypeError):
        return reference_encode(doc)


def reference_encode(doc: dict[str, Any]) -> bytes:
    """The canonical encoding, by definition: sorted keys, no whitespace, UTF-8."""
    return _dumps(doc).encode("utf-8")


def decode_tree(raw: bytes) -> list[Node]:
    try:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            doc = json.loads(raw)  # what orjson refuses but the format allows (big integers)
        nodes = doc["nodes"]
        if not isinstance(nodes, list):
            raise TypeError("nodes is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"tree is malformed: {exc}") from None
    return nodes
