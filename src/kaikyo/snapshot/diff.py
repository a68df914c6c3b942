"""Difference between two snapshot trees, skipping identical subtrees without loading them."""

from __future__ import annotations

from collections.abc import Iterator

from kaikyo.core.format.tree import Node, node_name
from kaikyo.repo import Repository
from kaikyo.snapshot import trees

_META = ("mode", "uid", "gid", "mtime", "type")


def diff_trees(repo: Repository, a: str, b: str, base: bytes = b"") -> Iterator[tuple[str, bytes]]:
    """Yield ('+', path), ('-', path), ('M', path) content change, ('T', path) metadata only."""
    if a == b:
        return
    left = {node_name(n): n for n in trees.load_tree(repo, a)} if a else {}
    right = {node_name(n): n for n in trees.load_tree(repo, b)} if b else {}
    for name in sorted(set(left) | set(right)):
        path = base + b"/" + name
        ln, rn = left.get(name), right.get(name)
        if ln is None:
            yield "+", path
            yield from _all(repo, rn, path, "+")
        elif rn is None:
            yield "-", path
            yield from _all(repo, ln, path, "-")
        else:
            if ln.get("content") != rn.get("content") or ln.get("target") != rn.get("target"):
                yield "M", path
            elif any(ln.get(k) != rn.get(k) for k in _META) and ln.get("type") != "dir":
                yield "T", path
            if ln.get("type") == "dir" or rn.get("type") == "dir":
                yield from diff_trees(
                    repo, str(ln.get("subtree", "")), str(rn.get("subtree", "")), path
                )


def _all(
    repo: Repository, node: Node | None, path: bytes, sign: str
) -> Iterator[tuple[str, bytes]]:
    if node is None or node.get("type") != "dir" or not node.get("subtree"):
        return
    for p, _ in trees.walk(repo, str(node["subtree"]), path):
        yield sign, p
