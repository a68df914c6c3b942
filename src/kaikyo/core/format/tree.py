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
from dataclasses import dataclass
from enum import StrEnum
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


# ---- typed nodes ---------------------------------------------------------------------------
# In memory a node is a TreeNode: names, symlink targets and ids are bytes, the type an enum.
# On disk it is the dict above; to_doc and from_doc convert between them, key for key, so the
# bytes of a tree (and with them its id, and deduplication) are what they always were.


class NodeType(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    FIFO = "fifo"
    CHARDEV = "chardev"
    BLOCKDEV = "blockdev"
    SOCKET = "socket"


_TYPES = {t.value: t for t in NodeType}
_KNOWN = frozenset(
    (
        "name",
        "name_b",
        "type",
        "mode",
        "uid",
        "gid",
        "user",
        "group",
        "mtime",
        "size",
        "inode",
        "dev",
        "links",
        "rdev",
        "content",
        "subtree",
        "target",
        "target_b",
        "xattrs",
        "sparse",
    )
)
_INT_FIELDS = ("mode", "uid", "gid", "mtime", "size", "inode", "dev", "links", "rdev")


@dataclass(slots=True)
class TreeNode:
    """One entry of a directory. A field that is None is absent from the stored node.

    ``content``: the blob ids of a file's chunks, in order, concatenated (32 bytes each; an
    empty file: ``b""``), as the files cache and restore's plan hold them (see
    :meth:`blob_ids`); ``subtree``: a directory's tree id; ``target``: a symlink's target;
    ``xattrs``: as stored, ``[[name, base64 value], ...]``. ``extra``: keys this version does
    not know, kept as they were so that rewriting a tree loses nothing.
    """

    name: bytes
    type: NodeType
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    user: str | None = None
    group: str | None = None
    mtime: int | None = None
    size: int | None = None
    inode: int | None = None
    dev: int | None = None
    links: int | None = None
    rdev: int | None = None
    content: bytes | None = None
    subtree: bytes | None = None
    target: bytes | None = None
    xattrs: list[list[str]] | None = None
    sparse: bool = False
    extra: dict[str, Any] | None = None

    @property
    def is_dir(self) -> bool:
        return self.type is NodeType.DIR

    def blob_ids(self) -> list[bytes]:
        """The ids of the file's chunks, one by one."""
        c = self.content or b""
        return [c[i : i + 32] for i in range(0, len(c), 32)]

    def to_doc(self) -> Node:  # noqa: C901, PLR0912 - one branch per optional key, on purpose
        """The stored form (see the module docstring). Written out key by key, without a
        helper per group: a backup converts every node of every directory, unchanged ones
        included, and this is on its path (the type is the enum member, a str)."""
        doc: Node = {"type": self.type}
        name = self.name
        if name.isascii():
            doc["name"] = name.decode("ascii")
        else:
            put_bytes(doc, "name", name)
        if self.mode is not None:
            doc["mode"] = self.mode
        if self.uid is not None:
            doc["uid"] = self.uid
        if self.gid is not None:
            doc["gid"] = self.gid
        if self.user is not None:
            doc["user"] = self.user
        if self.group is not None:
            doc["group"] = self.group
        if self.mtime is not None:
            doc["mtime"] = self.mtime
        if self.size is not None:
            doc["size"] = self.size
        if self.inode is not None:  # inode, device and links: only for hard-linked files
            doc["inode"] = self.inode
        if self.dev is not None:
            doc["dev"] = self.dev
        if self.links is not None:
            doc["links"] = self.links
        if self.rdev is not None:
            doc["rdev"] = self.rdev
        if self.content is not None:
            h = self.content.hex()
            doc["content"] = [h[i : i + 64] for i in range(0, len(h), 64)]
        if self.subtree is not None:
            doc["subtree"] = self.subtree.hex()
        if self.target is not None:
            put_bytes(doc, "target", self.target)
        if self.xattrs is not None:
            doc["xattrs"] = self.xattrs
        if self.sparse:
            doc["sparse"] = True
        if self.extra:
            doc.update(self.extra)
        return doc

    @classmethod
    def from_doc(cls, doc: object) -> TreeNode:
        """A stored node, checked: IntegrityError names what is wrong with it."""
        if type(doc) is not dict:
            raise IntegrityError("tree node is not an object")
        get = doc.get
        type_text = get("type")
        kind = _TYPES.get(type_text) if type(type_text) is str else None
        if kind is None:
            raise IntegrityError(f"tree node has an unknown type {get('type')!r}")
        ints = (
            get("mode"),
            get("uid"),
            get("gid"),
            get("mtime"),
            get("size"),
            get("inode"),
            get("dev"),
            get("links"),
            get("rdev"),
        )
        for value in ints:
            if value is not None and type(value) is not int:
                key = _INT_FIELDS[ints.index(value)]
                raise IntegrityError(f"tree node field {key!r} is not an integer")
        user, group = get("user"), get("group")
        if user is not None and type(user) is not str:
            raise IntegrityError("tree node field 'user' is not text")
        if group is not None and type(group) is not str:
            raise IntegrityError("tree node field 'group' is not text")
        mode, uid, gid, mtime, size, inode, dev, links, rdev = ints
        return cls(
            node_name(doc),
            kind,
            mode,
            uid,
            gid,
            user,
            group,
            mtime,
            size,
            inode,
            dev,
            links,
            rdev,
            _content_from(get("content")),
            _subtree_from(get("subtree")),
            _target_from(doc),
            _xattrs_from(get("xattrs")),
            get("sparse") is True,
            None if doc.keys() <= _KNOWN else {k: doc[k] for k in doc.keys() - _KNOWN},
        )


def _content_from(content: object) -> bytes | None:
    if content is None:
        return None
    if type(content) is not list or not all(type(h) is str and len(h) == 64 for h in content):
        raise IntegrityError("tree node has a malformed content id")
    try:
        return bytes.fromhex("".join(content))
    except ValueError:
        raise IntegrityError("tree node has a malformed content id") from None


def _subtree_from(subtree: object) -> bytes | None:
    if subtree is None:
        return None
    try:
        return _id(subtree)
    except (TypeError, ValueError):
        raise IntegrityError("tree node has a malformed subtree id") from None


def _target_from(doc: Node) -> bytes | None:
    try:
        return get_bytes(doc, "target")
    except (TypeError, ValueError):
        raise IntegrityError("tree node has a malformed target") from None


def _xattrs_from(xattrs: object) -> list[list[str]] | None:
    if xattrs is None:
        return None
    if not isinstance(xattrs, list) or not all(
        isinstance(x, list) and len(x) == 2 and all(isinstance(v, str) for v in x) for x in xattrs
    ):
        raise IntegrityError("tree node field 'xattrs' is malformed")
    return xattrs


def _id(text: object) -> bytes:
    if not isinstance(text, str) or len(text) != 64:
        raise ValueError("not an id")
    return bytes.fromhex(text)


def encode_nodes(nodes: list[TreeNode]) -> bytes:
    """Serialise typed nodes (already sorted by name bytes) canonically."""
    return encode_tree([n.to_doc() for n in nodes])


def decode_nodes(raw: bytes) -> list[TreeNode]:
    """A tree's typed nodes; IntegrityError if the tree or one of its nodes is malformed."""
    return [TreeNode.from_doc(doc) for doc in decode_tree(raw)]
