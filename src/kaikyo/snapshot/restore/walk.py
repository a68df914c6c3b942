"""Walking the snapshot's trees below the restored path into a :class:`~.plan.Plan`: what the
include and exclude filters keep, the directories above what they keep, and which files are
hard links to a file restored before them."""

from __future__ import annotations

from array import array

import numpy as np

from kaikyo.core.format.tree import NodeType, TreeNode
from kaikyo.repo import Repository
from kaikyo.snapshot import trees
from kaikyo.snapshot.filters import PathFilter
from kaikyo.snapshot.restore.metadata import node_meta
from kaikyo.snapshot.restore.options import RestoreOptions
from kaikyo.snapshot.restore.plan import Plan, keep_files


def collect(repo: Repository, opts: RestoreOptions, root_tree: str, subpath: bytes) -> Plan:
    """Walk the snapshot below ``subpath`` and build the plan."""
    walker = _Walker(repo, opts)
    _, node, tree = trees.resolve(repo, root_tree, subpath)
    # As restic: restoring SNAPSHOT:/a/b puts the contents of /a/b into the target.
    if node is None or tree is not None:
        walker.walk(root_tree if tree is None else tree)
    else:
        name = node.name
        if not walker.filtering or walker.filter.wanted(b"/" + name, node.is_dir):
            walker.add(opts.target, name, node, opts.target + b"/" + name)
    _find_hardlinks(walker.plan, walker.linked)
    return walker.plan


class _Pending:
    """A directory walked but not (yet) added to the plan, and the one above it."""

    __slots__ = ("added", "args", "up")

    def __init__(self, args: tuple[bytes, bytes, TreeNode, bytes], up: _Pending | None) -> None:
        self.args = args
        self.up = up
        self.added = False


class _Walker:
    def __init__(self, repo: Repository, opts: RestoreOptions) -> None:
        self.repo = repo
        self.target = opts.target
        self.numeric_owner = opts.numeric_owner
        self.filter = PathFilter(opts.include, opts.exclude, opts.iinclude, opts.iexclude)
        self.filtering = bool(self.filter)
        self.plan = Plan()
        # Files with more than one link, to find the ones seen before: (dev, inode, number).
        self.linked = (array("Q"), array("Q"), array("I"))

    def walk(self, tree_id: bytes | str) -> None:
        """Depth-first, parents before children, each directory's nodes in tree order (the
        order of :func:`trees.walk`). A directory's path is one object, shared as the parent
        of everything in it.

        A directory that is not wanted itself is still walked (an include such as ``*.conf``
        matches by name, anywhere below), and created, with its metadata, only when something
        inside it is restored, as restic does.
        """
        stack: list[tuple[bytes, bytes, bytes | str, _Pending | None]] = [
            (b"", self.target, tree_id, None)
        ]
        wanted = self.filter.wanted if self.filtering else None
        while stack:
            base, parent, tid, pending = stack.pop()
            subdirs = []
            for node in trees.load_tree(self.repo, tid):
                name = node.name
                is_dir = node.type is NodeType.DIR
                out = parent + b"/" + name if is_dir else b""
                below: _Pending | None = None
                if wanted is None or wanted(base + b"/" + name, is_dir):
                    if pending is not None:
                        self.add_pending(pending)
                    self.add(parent, name, node, out)
                elif is_dir:
                    below = _Pending((parent, name, node, out), pending)
                if is_dir and node.subtree is not None:
                    subdirs.append((base + b"/" + name, out, node.subtree, below))
            stack.extend(reversed(subdirs))

    def add_pending(self, pending: _Pending) -> None:
        """Add the directories above a wanted node that were not added yet, top down."""
        chain = []
        link: _Pending | None = pending
        while link is not None and not link.added:
            chain.append(link)
            link = link.up
        for item in reversed(chain):
            self.add(*item.args)
            item.added = True

    def add(self, parent: bytes, name: bytes, n: TreeNode, out: bytes) -> None:
        kind = n.type
        numeric = self.numeric_owner
        if kind is NodeType.FILE:
            files = self.plan.files
            fno = len(files.name)
            if n.links is not None and n.links > 1:
                dev, ino, nos = self.linked
                dev.append(n.dev or 0)
                ino.append(n.inode or 0)
                nos.append(fno)
            files.parent.append(parent)
            files.name.append(name)
            files.meta.extend(node_meta(n, numeric))
            files.meta.append(n.size or 0)
            if n.xattrs:
                files.xattrs[fno] = n.xattrs
            if n.sparse:
                files.sparse.add(fno)
            ids = self.plan.chunks.ids
            if n.content:
                ids += n.content
            files.rows.append(len(ids) >> 5)
        elif kind is NodeType.DIR:
            dirs = self.plan.dirs
            if n.xattrs:
                dirs.xattrs[len(dirs.paths)] = n.xattrs
            dirs.paths.append(out)
            dirs.meta.extend(node_meta(n, numeric))
        else:
            path = parent + b"/" + name
            payload: bytes | int = n.target or b"" if kind is NodeType.SYMLINK else (n.rdev or 0)
            self.plan.specials.append(
                (path, kind, payload, node_meta(n, numeric), n.xattrs or None)
            )


def _find_hardlinks(plan: Plan, linked: tuple[array[int], array[int], array[int]]) -> None:
    """A file whose (dev, inode) was seen before becomes a link to the first one: drop it
    from the files, and every later file number shifts down."""
    dev_a, ino_a, nos_a = linked
    if len(nos_a) < 2:
        return
    dev = np.frombuffer(dev_a, dtype=np.uint64)
    ino = np.frombuffer(ino_a, dtype=np.uint64)
    nos = np.frombuffer(nos_a, dtype=np.uint32)
    o = np.lexsort((nos, ino, dev))
    dev, ino, nos = dev[o], ino[o], nos[o]
    again = np.zeros(len(o), dtype=bool)
    again[1:] = (dev[1:] == dev[:-1]) & (ino[1:] == ino[:-1])
    if not again.any():
        return
    # The first of each run of one inode (the lowest file number: seen first).
    first = np.maximum.accumulate(np.where(again, 0, np.arange(len(o))))
    dups, srcs = nos[again], nos[first[again]]
    by_walk = np.argsort(dups, kind="stable")
    dups, srcs = dups[by_walk], srcs[by_walk]
    keep = np.ones(len(plan.files), dtype=bool)
    keep[dups] = False
    out = plan.files.out
    plan.hardlinks = [(out(s), out(d)) for s, d in zip(srcs.tolist(), dups.tolist(), strict=True)]
    keep_files(plan, keep)
