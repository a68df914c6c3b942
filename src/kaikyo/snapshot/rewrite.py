"""rewrite: remove what excludes match from existing snapshots (restic's ``rewrite``).

Each snapshot's trees are walked from the root and every node an exclude matches is dropped,
a directory with everything below it (the matcher backup uses,
:class:`~kaikyo.snapshot.filters.ExcludeMatcher`, over the absolute paths the trees mirror).
Trees are written again bottom-up, and only those that lost something in them or below
them: an unchanged subtree keeps its id, so a rewrite stores one new tree per directory on
the way to what it removed, and nothing else.

Crash-safe order (the CLI keeps it): the trees of every snapshot are written and flushed
(packs, then the index) before any manifest is saved, and an old manifest is removed only
after its replacement is saved. A kill leaves at worst unreferenced trees (pruned later) and
both manifests of one snapshot; the rerun finds the replacement already saved (the same
manifest, see :func:`find_saved`) and only removes the old one. Data no snapshot references
any more stays until ``prune``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kaikyo.core.format.tree import NodeType, TreeNode, decode_nodes, encode_nodes
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError
from kaikyo.repo import SnapshotRecord
from kaikyo.snapshot.filters import ExcludeMatcher

__all__ = [
    "REWRITE_TAG",
    "Change",
    "Removed",
    "Rewritten",
    "TreeRewriter",
    "corrected_summary",
    "find_saved",
    "plan_changes",
    "rewritten_doc",
]

# restic's: the tag a rewritten snapshot gets unless the old one is removed (--forget).
REWRITE_TAG = "rewrite"

# Rewritten subtrees remembered across the snapshots of one run (several snapshots of one
# host share most directories): about 200 bytes each, so the memo is dropped past this many.
MEMO_LIMIT = 500_000


class TreeLoader(Protocol):
    def load_blob(self, blob_id: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Removed:
    """One node an exclude matched, with what went with it (itself included)."""

    path: bytes
    type: NodeType
    files: int = 0
    dirs: int = 0
    other: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class Rewritten:
    """A tree after the rewrite: its id (the old one if nothing below it matched)."""

    tree: bytes
    removed: tuple[Removed, ...]


@dataclass
class _Frame:
    """A directory being rewritten: its nodes, how far it got, what it keeps."""

    path: bytes
    tree: bytes
    nodes: list[TreeNode]
    at: int = 0
    kept: list[TreeNode] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    changed: bool = False


class TreeRewriter:
    """Drops the nodes ``matcher`` matches from trees; ``save`` stores a new tree's bytes and
    returns its id (the repository writer's, or a dry run's that only computes it).

    Walks without recursion (a path may be deeper than Python's stack). A tree that cannot
    be loaded raises IntegrityError before anything of its snapshot is saved.
    """

    def __init__(
        self, loader: TreeLoader, matcher: ExcludeMatcher, save: Callable[[bytes], bytes]
    ) -> None:
        self._loader = loader
        self._matcher = matcher
        self._save = save
        # (path, old tree id) -> result: the patterns depend on the path, so the id alone
        # would not do (the same directory may lie at two places).
        self._memo: dict[tuple[bytes, bytes], Rewritten] = {}
        self._below: dict[bytes, tuple[int, int, int, int]] = {}
        self.trees_saved = 0

    def rewrite(self, tree_id: bytes) -> Rewritten:
        """The root tree ``tree_id`` without what the excludes match."""
        stack = [self._frame(b"", tree_id)]
        while True:
            frame = stack[-1]
            child = self._advance(frame)
            if child is not None:
                stack.append(child)
                continue
            done = self._finish(frame)
            stack.pop()
            if not stack:
                return done
            self._adopt(stack[-1], done)

    def _frame(self, path: bytes, tree_id: bytes) -> _Frame:
        return _Frame(path, tree_id, self._load(tree_id, path))

    def _load(self, tree_id: bytes, path: bytes) -> list[TreeNode]:
        try:
            return decode_nodes(self._loader.load_blob(tree_id))
        except IntegrityError as exc:
            shown = path.decode("utf-8", "backslashreplace") or "/"
            raise IntegrityError(
                f"tree {short(tree_id)} at {shown} is unreadable ({exc.message}); "
                "nothing was rewritten",
                "run 'kaikyo check --read-data' to see what is damaged",
            ) from None

    def _advance(self, f: _Frame) -> _Frame | None:
        """Go through ``f``'s nodes; the frame of a subdirectory to rewrite first, if any."""
        while f.at < len(f.nodes):
            node = f.nodes[f.at]
            path = f.path + b"/" + node.name
            if self._matcher.matches(path):
                f.removed.append(self._removed(path, node))
                f.changed = True
                f.at += 1
                continue
            if node.is_dir and node.subtree is not None:
                done = self._memo.get((path, node.subtree))
                if done is None:
                    return self._frame(path, node.subtree)
                self._adopt(f, done)
                continue
            f.kept.append(node)
            f.at += 1
        return None

    def _adopt(self, f: _Frame, done: Rewritten) -> None:
        """Put the rewritten subdirectory at ``f.at`` into ``f``."""
        node = f.nodes[f.at]
        if done.tree != node.subtree:
            node = dataclasses.replace(node, subtree=done.tree)
            f.changed = True
        f.kept.append(node)
        f.removed.extend(done.removed)
        f.at += 1

    def _finish(self, f: _Frame) -> Rewritten:
        tree = f.tree
        if f.changed:
            tree = self._save(encode_nodes(f.kept))
            self.trees_saved += 1
        done = Rewritten(tree, tuple(f.removed))
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[(f.path, f.tree)] = done
        return done

    def _removed(self, path: bytes, node: TreeNode) -> Removed:
        if node.type is NodeType.FILE:
            return Removed(path, node.type, files=1, bytes=node.size or 0)
        if not node.is_dir:
            return Removed(path, node.type, other=1)
        files, dirs, other, size = (0, 0, 0, 0)
        if node.subtree is not None:
            files, dirs, other, size = self._count(path, node.subtree)
        return Removed(path, node.type, files, dirs + 1, other, size)

    def _count(self, path: bytes, tree_id: bytes) -> tuple[int, int, int, int]:
        """Files, directories, other nodes and file bytes below a removed directory."""
        known = self._below.get(tree_id)
        if known is not None:
            return known
        files = dirs = other = size = 0
        stack = [tree_id]
        while stack:
            for child in self._load(stack.pop(), path):
                if child.type is NodeType.FILE:
                    files += 1
                    size += child.size or 0
                elif child.is_dir:
                    dirs += 1
                    if child.subtree is not None:
                        stack.append(child.subtree)
                else:
                    other += 1
        self._below[tree_id] = counts = (files, dirs, other, size)
        return counts


# ---- manifests ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """A snapshot that loses something: the old record, and the manifest to replace it."""

    record: SnapshotRecord
    removed: tuple[Removed, ...]
    doc: dict[str, Any]

    @property
    def tree(self) -> str:
        return str(self.doc["tree"])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def corrected_summary(summary: object, removed: Iterable[Removed]) -> object:
    """The backup's summary with the removed part taken out of its totals.

    ``bytes_total``, ``dirs`` and ``other`` count the snapshot's content and are reduced. The
    file counts say what the backup did with each file (new, changed, unmodified), which the
    tree does not record, so they stay, and ``files_removed`` (summed over rewrites) says how
    many files are gone. What the backup added to the repository stays as it was, and so
    does a count that is not a number (written by something else).
    """
    if not isinstance(summary, dict) or not summary:
        return summary  # no totals to correct
    removed = list(removed)
    out = dict(summary)
    for key, gone in (
        ("bytes_total", sum(r.bytes for r in removed)),
        ("dirs", sum(r.dirs for r in removed)),
        ("other", sum(r.other for r in removed)),
    ):
        if _is_int(out.get(key)):
            out[key] = max(0, out[key] - gone)
    out["files_removed"] = _int(out.get("files_removed")) + sum(r.files for r in removed)
    return out


def rewritten_doc(
    record: SnapshotRecord, tree: bytes, removed: tuple[Removed, ...], *, forget: bool
) -> dict[str, Any]:
    """The new manifest, as restic writes it: the same time, host, paths and tags, the new
    tree, ``original`` the id of the manifest it replaces, the tag ``rewrite`` unless the old
    one is removed, and the summary's totals corrected."""
    doc = dict(record.doc)
    doc["tree"] = tree.hex()
    doc["original"] = record.snapshot_id
    if not forget:
        tags = list(doc.get("tags", []))
        doc["tags"] = tags if REWRITE_TAG in tags else [*tags, REWRITE_TAG]
    if "summary" in doc:
        doc["summary"] = corrected_summary(doc["summary"], removed)
    return doc


def plan_changes(
    rewriter: TreeRewriter, records: Iterable[SnapshotRecord], *, forget: bool
) -> tuple[list[Change], list[SnapshotRecord]]:
    """Rewrite the trees of ``records``: the snapshots that change, and those left alone
    (nothing matched)."""
    changes: list[Change] = []
    unchanged: list[SnapshotRecord] = []
    for record in records:
        done = rewriter.rewrite(bytes.fromhex(record.doc["tree"]))
        if not done.removed:
            unchanged.append(record)
            continue
        doc = rewritten_doc(record, done.tree, done.removed, forget=forget)
        changes.append(Change(record, done.removed, doc))
    return changes, unchanged


def find_saved(doc: dict[str, Any], records: Iterable[SnapshotRecord]) -> str | None:
    """The id of a manifest already saved with exactly ``doc`` (by an interrupted run of the
    same rewrite), so a rerun removes the old one instead of saving a second copy."""
    plain = json.loads(json.dumps(doc))
    return next((r.snapshot_id for r in records if r.doc == plain), None)
