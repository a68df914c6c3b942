"""What an earlier copy tells the next one, so a daily copy reads what changed, not everything.

Ids differ between the repositories, so without help a copy would read every tree and chunk of
a snapshot from the source just to learn their destination ids, and find nearly all of them
stored already: a terabyte read every day to send a few gigabytes. restic's ids are the same
in both repositories and it need not; kaikyo walks an earlier copy instead, the way a backup
takes its parent.

An earlier copy is a destination snapshot whose ``copied_from`` names a source tree: that tree
and the copy's root are the same tree, in each repository's ids. Walked side by side with the
snapshot being copied, path by path (a :data:`Hint` per directory): where the new tree is the
old one, its destination id is known and nothing below it is read; where it changed, the old
and the copied trees are read, and the chunks of each old file are paired, position by
position, with the copied file's. Those pairs are believed only where both blobs are indexed
as data of the same length; the rest is read, as without an earlier copy.

What this trusts is what restic's copy trusts of a destination tree it finds: that a copy
wrote it, subtree by subtree, before the manifest naming it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from kaikyo.core.constants import BLOB_DATA, BLOB_TREE
from kaikyo.core.format.tree import TreeNode, decode_nodes
from kaikyo.repo import Repository
from kaikyo.snapshot.idmap import IdMap
from kaikyo.snapshot.readblobs import read_blobs

# (source tree id, destination tree id): the tree at this path in an earlier copy.
Hint = tuple[bytes, bytes]
# A changed directory's old nodes by name, and its copy's.
Opened = tuple[dict[bytes, TreeNode], dict[bytes, TreeNode]]


def _stored(repo: Repository, ids: Iterable[bytes], blob_type: int) -> list[bool]:
    query = b"".join(ids)
    if not query:
        return []
    loc = repo.index.locate_many(query)
    return [bool(v) for v in (loc.found & (loc.blob_type == blob_type)).tolist()]


def _by_name(repo: Repository, ids: set[bytes]) -> dict[bytes, dict[bytes, TreeNode]]:
    return {
        tid: {n.name: n for n in decode_nodes(raw)}
        for tid, raw in read_blobs(repo, b"".join(sorted(ids)), BLOB_TREE)
    }


class EarlierCopy:
    """Hints for one translator: which trees are settled, which chunks are paired."""

    def __init__(self, src: Repository, dst: Repository) -> None:
        self.src, self.dst = src, dst
        self._src_chunks = bytearray()
        self._dst_chunks = bytearray()

    def settle(
        self, level: list[tuple[bytes, Hint | None]], tree_ids: dict[bytes, bytes]
    ) -> list[tuple[bytes, Hint | None]]:
        """Map into ``tree_ids`` the trees that are their earlier copy's source tree (their
        destination tree indexed); return the others, each hint kept only if both its trees
        are indexed (a forgotten and pruned snapshot leaves none, or a part)."""
        hinted = [(t, h) for t, h in level if h is not None]
        if not hinted:
            return level
        old_ok = _stored(self.src, (h[0] for _, h in hinted), BLOB_TREE)
        new_ok = _stored(self.dst, (h[1] for _, h in hinted), BLOB_TREE)
        usable = {t: h for (t, h), a, b in zip(hinted, old_ok, new_ok, strict=True) if a and b}
        out: list[tuple[bytes, Hint | None]] = []
        for tree_id, hint in level:
            hint = usable.get(tree_id) if hint is not None else None
            if hint is not None and hint[0] == tree_id:
                tree_ids[tree_id] = hint[1]  # unchanged since that copy: nothing to read
            else:
                out.append((tree_id, hint))
        return out

    def open(self, part: list[tuple[bytes, Hint | None]]) -> dict[bytes, Opened]:
        """For each changed tree of ``part`` with a hint: its old nodes and their copies."""
        hints = {t: h for t, h in part if h is not None}
        if not hints:
            return {}
        old = _by_name(self.src, {h[0] for h in hints.values()})
        new = _by_name(self.dst, {h[1] for h in hints.values()})
        return {t: (old[h[0]], new[h[1]]) for t, h in hints.items()}

    def follow(self, opened: Opened | None, node: TreeNode) -> Hint | None:
        """The hint for ``node``'s subtree; pairs its earlier namesake's chunks."""
        if opened is None:
            return None
        old, new = opened[0].get(node.name), opened[1].get(node.name)
        if old is None or new is None:
            return None
        if old.content and new.content and len(old.content) == len(new.content):
            self._src_chunks += old.content
            self._dst_chunks += new.content
        if old.subtree is not None and new.subtree is not None:
            return old.subtree, new.subtree
        return None

    def pair_into(self, chunks: IdMap) -> int:
        """Add the chunk pairs gathered so far to ``chunks``: those not mapped yet whose two
        blobs are indexed as data of the same length. Returns how many were added."""
        src, dst = bytes(self._src_chunks), bytes(self._dst_chunks)
        self._src_chunks, self._dst_chunks = bytearray(), bytearray()
        if not src:
            return 0
        ids = np.frombuffer(src, dtype="V32")
        _, first = np.unique(ids, return_index=True)
        fresh = np.frombuffer(chunks.unknown(src), dtype="V32")
        rows = first[np.isin(ids[first], fresh)]
        if not len(rows):
            return 0
        take_src = ids[rows].tobytes()
        take_dst = np.frombuffer(dst, dtype="V32")[rows].tobytes()
        a = self.src.index.locate_many(take_src)
        b = self.dst.index.locate_many(take_dst)
        ok = (
            a.found
            & b.found
            & (a.blob_type == BLOB_DATA)
            & (b.blob_type == BLOB_DATA)
            & (a.raw_length == b.raw_length)
        )
        keep = np.flatnonzero(ok)
        chunks.add(
            np.frombuffer(take_src, dtype="V32")[keep].tobytes(),
            np.frombuffer(take_dst, dtype="V32")[keep].tobytes(),
        )
        return len(keep)
