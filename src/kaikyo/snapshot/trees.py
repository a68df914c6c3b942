"""Reading snapshot trees: load, walk, and resolve a path inside a snapshot."""

from __future__ import annotations

from collections.abc import Iterator

from kaikyo.core.format.tree import Node, decode_tree, node_name
from kaikyo.errors import NotFoundError
from kaikyo.repo import Repository


def load_tree(repo: Repository, tree_hex: str) -> list[Node]:
    return decode_tree(repo.load_blob(bytes.fromhex(tree_hex)))


def walk(repo: Repository, tree_hex: str, prefix: bytes = b"") -> Iterator[tuple[bytes, Node]]:
    """Yield (path, node) depth-first, parents before children; paths start with '/'."""
    stack = [(prefix, tree_hex)]
    while stack:
        base, tid = stack.pop()
        nodes = load_tree(repo, tid)
        subdirs = []
        for node in nodes:
            path = base + b"/" + node_name(node)
            yield path, node
            if node.get("type") == "dir" and node.get("subtree"):
                subdirs.append((path, node["subtree"]))
        stack.extend(reversed(subdirs))


def resolve(repo: Repository, root_tree: str, path: bytes) -> tuple[bytes, Node | None, str]:
    """Find ``path`` in a snapshot: returns (normalised path, its node or None for the root,
    the tree id to walk below it, or "" for a file)."""
    parts = [p for p in path.split(b"/") if p and p != b"."]
    tree = root_tree
    node: Node | None = None
    for i, part in enumerate(parts):
        match = next((n for n in load_tree(repo, tree) if node_name(n) == part), None)
        if match is None:
            shown = b"/" + b"/".join(parts[: i + 1])
            raise NotFoundError(
                f"path {shown.decode('utf-8', 'backslashreplace')} is not in the snapshot"
            )
        node = match
        tree = str(match.get("subtree", "")) if match.get("type") == "dir" else ""
    return b"/" + b"/".join(parts), node, tree
