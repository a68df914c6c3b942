"""Trees: a directory's tree is saved as soon as nothing in it is still awaited.

A directory counts what it still waits for (its files in batches, its subdirectories not yet
saved); when the walk has left it and the count is zero, its tree is serialised and saved at
once, and its parent's count goes down. So memory holds the directories on the walk's path
and those waiting for a batch in flight, whose number is bounded: it grows neither with the
size of the tree nor with how far the walk runs ahead of a slow batch (an incremental backup
whose only changed file comes first settles everything behind it). Above the backed-up paths,
directories mirror their absolute paths up to the root tree.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from kaikyo.core.format.tree import NodeType, TreeNode, encode_nodes
from kaikyo.repo import RepositoryWriter
from kaikyo.snapshot.fs import make_node


class DirRecord:
    """A directory the walk has entered and whose tree is not saved yet."""

    __slots__ = ("cached", "entries", "node", "parent", "path", "waits_for", "walked")

    def __init__(self, node: TreeNode, path: bytes, parent: DirRecord | None) -> None:
        self.node = node
        self.path = path
        self.parent = parent
        self.entries: list[TreeNode] = []
        # Files-cache records of this directory's files, joined into one value when saved.
        self.cached: list[bytes] = []
        self.waits_for = 0  # its files in batches, and its subdirectories not yet saved
        self.walked = False  # the walk has left it: no more entries will come


class Level(dict[bytes, Any]):
    """A directory above the backed-up paths: name -> its Level, or a backed-up path's node."""


class TreeBuilder:
    """Saves directories' trees through the write session, as they settle.

    ``cache_dir``: called with a saved directory's path and its files-cache value.
    """

    def __init__(self, writer: RepositoryWriter, cache_dir: Callable[[bytes, bytes], None]) -> None:
        self._writer = writer
        self._cache_dir = cache_dir
        self.held_nodes = 0  # entries of directories not yet saved: what the walk holds
        # Nodes of files that could not be read: left out of their directory's tree. By
        # identity: a node stays alive in its directory's entries until the tree is saved.
        self._left_out: set[int] = set()

    def leave_out(self, node: TreeNode) -> None:
        """Keep ``node`` out of the tree it would go in (a file that could not be read)."""
        self._left_out.add(id(node))

    def _kept(self, nodes: list[TreeNode]) -> list[TreeNode]:
        left_out = self._left_out
        if not left_out:
            return nodes
        kept = [n for n in nodes if id(n) not in left_out]
        left_out.difference_update(id(n) for n in nodes)
        return kept

    def settle(self, rec: DirRecord | None) -> None:
        """Save ``rec``'s tree if nothing is left to wait for, then its parent's, and up."""
        while rec is not None and rec.walked and rec.waits_for == 0:
            self._complete_dir(rec)
            rec = rec.parent
            if rec is not None:
                rec.waits_for -= 1

    def _complete_dir(self, rec: DirRecord) -> None:
        rec.node.subtree = self.save_tree(self._kept(rec.entries))
        self.held_nodes -= len(rec.entries)
        rec.entries = []
        if rec.cached:
            self._cache_dir(rec.path, b"".join(rec.cached))
            rec.cached = []

    def save_tree(self, nodes: list[TreeNode]) -> bytes:
        return self._writer.save_tree(encode_nodes(nodes))

    def upper_trees(self, tops: list[tuple[bytes, TreeNode]]) -> str:
        """Build the directories above the backed-up paths, mirroring their absolute paths;
        the root tree's id (hex)."""
        tree = Level()
        kept = {id(n) for n in self._kept([n for _, n in tops])}
        for path, node in tops:
            if id(node) not in kept:
                continue
            parts = [p for p in path.split(b"/") if p]
            if not parts and node.subtree is not None:  # "/" itself: its tree is the root
                return node.subtree.hex()
            level = tree
            for part in parts[:-1]:
                level = level.setdefault(part, Level())
                if not isinstance(level, Level):
                    break
            else:
                level[parts[-1]] = node
        return self._save_level(tree, b"").hex()

    def _save_level(self, level: Level, prefix: bytes) -> bytes:
        nodes = []
        for name in sorted(level):
            child = level[name]
            full = prefix + b"/" + name
            if isinstance(child, Level):
                try:
                    node = make_node(name, full, os.lstat(full), NodeType.DIR)
                except OSError:
                    node = TreeNode(name, NodeType.DIR, mode=0o755)
                node.subtree = self._save_level(child, full)
                nodes.append(node)
            else:
                nodes.append(child)
        return self.save_tree(nodes)
