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

from kaikyo.core.format.tree import Node, encode_tree, put_bytes
from kaikyo.repo import RepositoryWriter
from kaikyo.snapshot.fs import DIR, make_node


class DirRecord:
    """A directory the walk has entered and whose tree is not saved yet."""

    __slots__ = ("cached", "entries", "node", "parent", "path", "waits_for", "walked")

    def __init__(self, node: Node, path: bytes, parent: DirRecord | None) -> None:
        self.node = node
        self.path = path
        self.parent = parent
        self.entries: list[Node] = []
        # Files-cache records of this directory's files, joined into one value when saved.
        self.cached: list[bytes] = []
        self.waits_for = 0  # its files in batches, and its subdirectories not yet saved
        self.walked = False  # the walk has left it: no more entries will come


class Level(dict[bytes, Any]):
    """A directory above the backed-up paths (distinct from a node, which is a plain dict)."""


class TreeBuilder:
    """Saves directories' trees through the write session, as they settle.

    ``cache_dir``: called with a saved directory's path and its files-cache value.
    """

    def __init__(self, writer: RepositoryWriter, cache_dir: Callable[[bytes, bytes], None]) -> None:
        self._writer = writer
        self._cache_dir = cache_dir
        self.held_nodes = 0  # entries of directories not yet saved: what the walk holds

    def settle(self, rec: DirRecord | None) -> None:
        """Save ``rec``'s tree if nothing is left to wait for, then its parent's, and up."""
        while rec is not None and rec.walked and rec.waits_for == 0:
            self._complete_dir(rec)
            rec = rec.parent
            if rec is not None:
                rec.waits_for -= 1

    def _complete_dir(self, rec: DirRecord) -> None:
        nodes = [n for n in rec.entries if not n.get("_error")]
        rec.node["subtree"] = self.save_tree(nodes)
        self.held_nodes -= len(rec.entries)
        rec.entries = []
        if rec.cached:
            self._cache_dir(rec.path, b"".join(rec.cached))
            rec.cached = []

    def save_tree(self, nodes: list[Node]) -> str:
        return self._writer.save_tree(encode_tree(nodes)).hex()

    def upper_trees(self, tops: list[tuple[bytes, Node]]) -> str:
        """Build the directories above the backed-up paths, mirroring their absolute paths."""
        tree = Level()
        for path, node in tops:
            if node.get("_error"):
                continue
            parts = [p for p in path.split(b"/") if p]
            if not parts:  # "/" itself: its tree is the root
                return str(node["subtree"])
            level = tree
            for part in parts[:-1]:
                level = level.setdefault(part, Level())
                if not isinstance(level, Level):
                    break
            else:
                level[parts[-1]] = node
        return self._save_level(tree, b"")

    def _save_level(self, level: Level, prefix: bytes) -> str:
        nodes = []
        for name in sorted(level):
            child = level[name]
            full = prefix + b"/" + name
            if isinstance(child, Level):
                try:
                    st = os.lstat(full)
                    node = make_node(name, full, st, DIR)
                except OSError:
                    node = {"type": DIR, "mode": 0o755}
                    put_bytes(node, "name", name)
                node["subtree"] = self._save_level(child, full)
                nodes.append(node)
            else:
                nodes.append(child)
        return self.save_tree(nodes)
