"""Reading snapshot trees: load, walk, and resolve a path inside a snapshot."""

from __future__ import annotations

from collections.abc import Iterator

from kaikyo.core.format.tree import TreeNode, decode_nodes
from kaikyo.errors import NotFoundError
from kaikyo.repo import Repository


def load_tree(repo: Repository, tree_id: bytes | str) -> list[TreeNode]:
    """A tree's typed nodes, by its id (bytes, or hex as a snapshot names its root)."""
    tid = bytes.fromhex(tree_id) if isinstance(tree_id, str) else tree_id
    return decode_nodes(repo.load_blob(tid))


def walk(
    repo: Repository, tree_id: bytes | str, prefix: bytes = b""
) -> Iterator[tuple[bytes, TreeNode]]:
    """Yield (path, node) depth-first, parents before children; paths start with '/'."""
    stack: list[tuple[bytes, bytes | str]] = [(prefix, tree_id)]
    while stack:
        base, tid = stack.pop()
        subdirs: list[tuple[bytes, bytes | str]] = []
        for node in load_tree(repo, tid):
            path = base + b"/" + node.name
            yield path, node
            if node.is_dir and node.subtree is not None:
                subdirs.append((path, node.subtree))
        stack.extend(reversed(subdirs))


def resolve(
    repo: Repository, root_tree: str, path: bytes
) -> tuple[bytes, TreeNode | None, bytes | None]:
    """Find ``path`` in a snapshot: returns (normalised path, its node or None for the root,
    the tree id to walk below it, or None for an entry that is not a directory)."""
    parts = [p for p in path.split(b"/") if p and p != b"."]
    tree: bytes | None = bytes.fromhex(root_tree)
    node: TreeNode | None = None
    for i, part in enumerate(parts):
        match = None
        if tree is not None:
            match = next((n for n in load_tree(repo, tree) if n.name == part), None)
        if match is None:
            shown = b"/" + b"/".join(parts[: i + 1])
            raise NotFoundError(
                f"path {shown.decode('utf-8', 'backslashreplace')} is not in the snapshot"
            )
        node = match
        tree = match.subtree if match.is_dir else None
    return b"/" + b"/".join(parts), node, tree
