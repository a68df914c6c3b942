"""recover: a snapshot of the trees no snapshot references (restic's ``recover``).

After a snapshot's manifest is lost (forgotten without a prune, deleted from the store,
rotten), its trees and data are still in the packs until a prune removes them. Every tree
blob the index lists is read, and each tree's subtrees are marked referenced, as are the
snapshots' root trees; the trees left unmarked are the roots of what no snapshot reaches.
(A tree below a reachable one is reachable, so a tree no tree and no snapshot names is
exactly a root among the unreferenced ones.) One new snapshot is saved whose root tree holds
each of them as a directory named by its short id, with path ``/recover`` and tag
``recovered``, so ``ls``, ``restore`` and ``dump`` reach the data again.

Trees are read a pack at a time (ranged reads of the tree blobs only), so a haven far away is
asked once per span, not once per tree. A tree that does not authenticate is reported and
never made a root; what lies below it becomes recoverable in its place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kaikyo import __version__
from kaikyo.core.constants import BLOB_TREE
from kaikyo.core.format.tree import NodeType, TreeNode, decode_nodes, encode_nodes
from kaikyo.core.ids import short
from kaikyo.repo import PackEntry, Repository, SnapshotRecord, WantedBlobs
from kaikyo.repo.badobjects import OBJECT_ERRORS, reason_of

__all__ = [
    "RECOVER_PATH",
    "RECOVER_TAG",
    "RecoverResult",
    "TreeScan",
    "recovered_nodes",
    "run_recover",
    "scan_trees",
]

RECOVER_PATH = "/recover"
RECOVER_TAG = "recovered"


@dataclass
class TreeScan:
    """What the index's trees show: how many there are, the roots no snapshot reaches, and
    the trees that could not be read (id -> why)."""

    trees: int = 0
    roots: list[bytes] = field(default_factory=list)
    unreadable: dict[bytes, str] = field(default_factory=dict)


@dataclass
class RecoverResult:
    scan: TreeScan
    snapshot_id: str | None = None
    tree: str | None = None


def _tree_entries(repo: Repository) -> dict[bytes, list[PackEntry]]:
    """The tree blobs of the index, one copy each, by pack and in pack order."""
    seen: set[bytes] = set()
    by_pack: dict[bytes, list[PackEntry]] = {}
    for pack_id, entry in repo.index.entries():
        if entry.blob_type == BLOB_TREE and entry.blob_id not in seen:
            seen.add(entry.blob_id)
            by_pack.setdefault(pack_id, []).append(entry)
    for entries in by_pack.values():
        entries.sort(key=lambda e: e.offset)
    return by_pack


def _read_pack_trees(
    repo: Repository, pack_id: bytes, entries: list[PackEntry]
) -> Iterator[tuple[bytes, bytes | str]]:
    """(tree id, its plaintext or why it is unreadable) for the trees of one pack: streamed,
    and one by one from the first blob the stream could not open."""
    wanted = WantedBlobs(
        [e.offset for e in entries],
        [e.length for e in entries],
        [e.blob_type for e in entries],
        [e.raw_length for e in entries],
        lambda k: entries[k].blob_id,
    )
    done = 0
    try:
        for plain in repo.stream_pack(pack_id, wanted):
            yield entries[done].blob_id, plain
            done += 1
        return
    except OBJECT_ERRORS:
        pass
    for entry in entries[done:]:
        try:
            yield entry.blob_id, repo.load_blob(entry.blob_id)
        except OBJECT_ERRORS as exc:
            yield entry.blob_id, reason_of(exc)


def scan_trees(
    repo: Repository,
    records: Iterable[SnapshotRecord],
    on_tree: Callable[[int], None] | None = None,
) -> TreeScan:
    """Read every tree of the index (index loaded) and find the roots no snapshot reaches."""
    scan = TreeScan()
    referenced = {bytes.fromhex(r.doc["tree"]) for r in records}
    trees: set[bytes] = set()
    for pack_id, entries in _tree_entries(repo).items():
        for tree_id, plain in _read_pack_trees(repo, pack_id, entries):
            trees.add(tree_id)
            if isinstance(plain, str):
                scan.unreadable[tree_id] = plain
                continue
            try:
                nodes = decode_nodes(plain)
            except OBJECT_ERRORS as exc:
                scan.unreadable[tree_id] = reason_of(exc)
                continue
            referenced.update(n.subtree for n in nodes if n.subtree is not None)
            if on_tree is not None:
                on_tree(len(trees))
    scan.trees = len(trees)
    scan.roots = sorted(trees - referenced - scan.unreadable.keys())
    return scan


def recovered_nodes(roots: list[bytes], mtime_ns: int) -> list[TreeNode]:
    """One directory per root, named by its short id (restic's names), sorted by name; two
    roots that share their short id are both named in full."""
    shorts = [short(r) for r in roots]
    counts = Counter(shorts)
    nodes = [
        TreeNode(
            (s if counts[s] == 1 else r.hex()).encode("ascii"),
            NodeType.DIR,
            mode=0o755,
            mtime=mtime_ns,
            subtree=r,
        )
        for r, s in zip(roots, shorts, strict=True)
    ]
    return sorted(nodes, key=lambda n: n.name)


def run_recover(
    repo: Repository,
    meta: dict[str, Any],
    now: float,
    on_tree: Callable[[int], None] | None = None,
) -> RecoverResult:
    """Find the unreferenced roots and, if there are any, save the snapshot that holds them
    (lock held, index loaded). ``meta``: ``hostname`` and ``username`` for the manifest.

    Crash-safe order: the new root tree is flushed (pack, index) before the manifest names it.
    """
    scan = scan_trees(repo, repo.list_snapshots(), on_tree)
    result = RecoverResult(scan)
    if not scan.roots:
        return result
    writer = repo.writer()
    try:
        tree = writer.save_tree(encode_nodes(recovered_nodes(scan.roots, int(now * 1e9))))
        writer.flush()
    finally:
        writer.close()
    doc = {
        "time": now,
        **meta,
        "paths": [RECOVER_PATH],
        "tags": [RECOVER_TAG],
        "tree": tree.hex(),
        "parent": None,
        "excludes": [],
        "program": f"kaikyo {__version__}",
        "errors": [],
    }
    result.snapshot_id = repo.save_snapshot(doc)
    result.tree = tree.hex()
    return result
