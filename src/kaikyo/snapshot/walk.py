"""The walk: depth-first over the backed-up paths, each entry lstat'ed once.

Files the files cache vouches for are settled on the spot; the others are queued in batches
for the readers (:mod:`kaikyo.snapshot.batching`), and their nodes completed when the batch
comes back. Directories are handed to the tree builder, which saves each as it settles.

What the walk leaves out (:class:`WalkRules`): excluded paths, what a tag file excludes
(:mod:`kaikyo.snapshot.dirtags`), entries larger than a size, other filesystems. The rules
apply to what the walk finds below the backed-up paths; a path given to back up is taken.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from kaikyo.core.format.tree import NodeType, TreeNode
from kaikyo.repo import MasterIndex
from kaikyo.snapshot import filescache
from kaikyo.snapshot.batching import Batch, Batcher
from kaikyo.snapshot.dirtags import DirTags
from kaikyo.snapshot.filters import ExcludeMatcher
from kaikyo.snapshot.fs import make_node, node_type
from kaikyo.snapshot.tally import Tally
from kaikyo.snapshot.treebuild import DirRecord, TreeBuilder
from kaikyo.snapshot.workers import FileResult


def _slash(path: bytes) -> bytes:
    return path if path.endswith(b"/") else path + b"/"


@dataclass(frozen=True)
class WalkRules:
    """What the walk leaves out. ``max_size``: anything but a directory larger than this
    many bytes, as restic's ``--exclude-larger-than`` (a symlink's size is its target's
    length)."""

    excludes: ExcludeMatcher
    one_file_system: bool = False
    tags: DirTags | None = None
    max_size: int | None = None


class Walker:
    """Walks the backed-up paths into nodes; files to read go to ``batcher``."""

    def __init__(
        self,
        index: MasterIndex,
        tally: Tally,
        trees: TreeBuilder,
        old_cache: filescache.OldCache,
        rules: WalkRules,
    ) -> None:
        self.index = index
        self.tally = tally
        self.counts = tally.counts
        self.trees = trees
        self.old_cache = old_cache
        self.excludes = rules.excludes
        self.one_file_system = rules.one_file_system
        self.tags = rules.tags or None
        self.max_size = sys.maxsize if rules.max_size is None else rules.max_size
        self.batcher: Batcher | None = None
        # Files given as backup paths are filed under their parent directory.
        self.top_old: dict[bytes, dict[bytes, filescache.Entry]] = {}
        self.top_new: dict[bytes, list[bytes]] = {}

    def _listdir(self, path: bytes) -> list[bytes]:
        """The names in a directory, last first: the walk pops them, so a name it has passed
        is freed (a directory of 100,000 entries is not held whole while its subtrees are
        walked). Each entry is lstat'ed once anyway, so a DirEntry would save nothing."""
        try:
            names = os.listdir(path)
        except OSError as exc:
            self.tally.error(path, f"cannot list directory: {exc.strerror}")
            return []
        if self.tags is not None:
            names = self.tags.kept(path, names)
        return sorted(names, reverse=True)

    def walk_top(self, path: bytes) -> TreeNode | None:
        try:
            st = os.lstat(path)
        except OSError as exc:
            self.tally.error(path, f"cannot read: {exc.strerror}")
            return None
        kind = node_type(st.st_mode)
        if kind is None:
            return None
        node = make_node(os.path.basename(path) or b"/", path, st, kind)
        if kind is NodeType.FILE:
            parent, name = os.path.split(path)
            old = self.top_old.get(parent)
            if old is None:
                old = self.top_old[parent] = self.old_cache.take(parent)
            self._file(node, name, path, st, old, self.top_new.setdefault(parent, []), None)
        elif kind is NodeType.DIR:
            self._walk_dir(node, path, st.st_dev)
        return node

    def _walk_dir(self, top_node: TreeNode, top_path: bytes, root_dev: int) -> None:
        assert self.batcher is not None
        batcher, trees = self.batcher, self.trees
        excluded = self.excludes.matches if self.excludes else None
        max_size = self.max_size
        top = DirRecord(top_node, top_path, None)
        self.counts["dirs"] += 1
        # (directory, names left, its old files cache, its path with a trailing "/")
        stack = [(top, self._listdir(top_path), self.old_cache.take(top_path), _slash(top_path))]
        while stack:
            rec, names, old, prefix = stack[-1]
            if not names:
                stack.pop()
                rec.walked = True
                trees.settle(rec)
                batcher.pump()
                continue
            name = names.pop()
            full = prefix + name  # os.path.join costs a Python call per entry
            if excluded is not None and excluded(full):
                continue
            try:
                st = os.lstat(full)
                kind = node_type(st.st_mode)
                if kind is None or (st.st_size > max_size and kind is not NodeType.DIR):
                    continue
                node = make_node(name, full, st, kind)
            except OSError as exc:
                self.tally.error(full, f"cannot read: {exc.strerror}")
                continue
            rec.entries.append(node)
            trees.held_nodes += 1
            batcher.walked += 1
            if kind is NodeType.DIR:
                self.counts["dirs"] += 1
                child = DirRecord(node, full, rec)
                rec.waits_for += 1
                if self.one_file_system and st.st_dev != root_dev:
                    child.walked = True  # a mount point: kept, its contents are not
                    trees.settle(child)
                    continue
                stack.append((child, self._listdir(full), self.old_cache.take(full), full + b"/"))
            elif kind is NodeType.FILE:
                self._file(node, name, full, st, old, rec.cached, rec)
            else:
                self.counts["other"] += 1

    def _file(
        self,
        node: TreeNode,
        name: bytes,
        path: bytes,
        st: os.stat_result,
        old: dict[bytes, filescache.Entry],
        new: list[bytes],
        owner: DirRecord | None,
    ) -> None:
        """``old``: the old cache of the file's directory; ``new``: where its record goes;
        ``owner``: its directory, which waits for it if it goes to a reader."""
        self.counts["bytes_total"] += st.st_size
        cached = old.get(name)
        if cached is not None and self._unchanged(cached, st):
            raw = filescache.blob_ids(cached)
            node.content = raw
            new.append(filescache.record(name, cached))
            self.counts["files_unmodified"] += 1
            self.tally.progress.file_done(path, st.st_size, "unchanged")
            return
        # Identical files have identical sizes: routing by size sends them to the same worker,
        # whose own set of stored blobs then deduplicates them (workers share no memory). A
        # tree of equal-sized files would then load one worker only, so a worker that is two
        # batches ahead of the idlest one gives way (rarely costing a duplicate blob).
        assert self.batcher is not None
        if owner is not None:
            owner.waits_for += 1
        self.batcher.add(path, st.st_size, (node, name, path, st, cached is not None, new, owner))

    def _unchanged(self, cached: filescache.Entry, st: os.stat_result) -> bool:
        """Same size, times and inode, and every blob still in the repository."""
        if not filescache.matches(cached, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino):
            return False
        raw = filescache.blob_ids(cached)
        if len(raw) == 32:
            return raw in self.index
        return all(self.index.contains_many([raw[i : i + 32] for i in range(0, len(raw), 32)]))

    def complete_batch(self, batch: Batch, results: list[FileResult]) -> None:
        """Fill in the nodes of a batch's files from what the readers stored."""
        owners = []
        counts, tally = self.counts, self.tally
        for (node, name, path, st, was_cached, new, owner), result in zip(
            batch.nodes, results, strict=True
        ):
            if owner is not None:
                owners.append(owner)
            if isinstance(result, str):
                self.trees.leave_out(node)  # unreadable: not in its directory's tree
                tally.error(path, f"cannot read: {result}")
                continue
            ids, size_read = result
            node.content = content = b"".join(ids)
            if size_read != st.st_size:
                node.size = size_read  # changed while read: record what was stored
            else:
                new.append(
                    filescache.record(
                        name,
                        filescache.make_entry(
                            st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, content
                        ),
                    )
                )
            counts["files_changed" if was_cached else "files_new"] += 1
            counts["bytes_read"] += size_read
            tally.progress.file_done(path, size_read, "modified" if was_cached else "new")
        for owner in owners:
            owner.waits_for -= 1
            self.trees.settle(owner)
