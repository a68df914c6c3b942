"""Copying a snapshot's blobs into another repository, named anew, trees rewritten.

The source and the destination have different keys, so the same plaintext has different ids
in each (:mod:`kaikyo.snapshot.idmap`): nothing can be moved sealed. A snapshot is copied in
three steps:

1. its trees are read level by level, each level pack by pack
   (:func:`~kaikyo.snapshot.readblobs.read_blobs`), collecting the chunk ids the files name;
   subtrees this run has translated are not entered, nor those an earlier copy shows
   unchanged (:mod:`kaikyo.snapshot.earlier`, which also pairs the chunks of files it had);
2. the chunks not translated yet are read pack by pack, checked against their source ids, and
   handed to the destination's data :class:`~kaikyo.repo.BlobWriter`, which stores those the
   destination lacks and names them all with the destination's key;
3. the trees are rewritten deepest first, chunk and subtree ids replaced, and stored by the
   destination's write session, which deduplicates them too.

Nothing is chunked again: the destination gets the source's chunks (as restic's copy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kaikyo.core.constants import BLOB_DATA, BLOB_TREE
from kaikyo.core.format.tree import decode_nodes, encode_nodes
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError
from kaikyo.repo import BlobWriter, Repository, RepositoryWriter
from kaikyo.snapshot.earlier import EarlierCopy, Hint, Opened
from kaikyo.snapshot.idmap import IdMap
from kaikyo.snapshot.readblobs import read_blobs

SAVE_BATCH = 8 * 1024 * 1024  # plaintext handed to the blob writer at once
TREE_CACHE = 64 * 1024 * 1024  # trees read in step 1 kept for step 3; the others read again
LEVEL_SLICE = 4096  # trees of one level read at once (and their earlier copies)

Level = list[tuple[bytes, Hint | None]]


class CopyProgress(Protocol):
    def blobs_read(self, count: int, nbytes: int) -> None: ...


class NullCopyProgress:
    def blobs_read(self, count: int, nbytes: int) -> None:
        pass


@dataclass
class ReadCounts:
    """What a translator read from the source and offered to the destination: blobs (trees
    and chunks) and their plaintext."""

    blobs: int = 0
    bytes: int = 0


@dataclass
class _Found:
    """Step 1's findings for one snapshot: the trees to rewrite (deepest first), the chunk
    ids the files name, and the trees kept in memory for step 3."""

    order: list[bytes] = field(default_factory=list)
    children: dict[bytes, list[bytes]] = field(default_factory=dict)
    chunks: bytearray = field(default_factory=bytearray)
    raw: dict[bytes, bytes] = field(default_factory=dict)
    kept: int = 0

    def keep(self, tree_id: bytes, raw: bytes) -> None:
        if self.kept + len(raw) <= TREE_CACHE:
            self.raw[tree_id] = raw
            self.kept += len(raw)


class Translator:
    """Translates snapshots from ``src`` into ``dst``'s writers: chunks through ``data``,
    trees through ``trees`` (the session that indexes both).

    It remembers what it translated, so a run copying several snapshots reads a subtree or a
    chunk they share once. A node's chunk ids and subtree id are translated whatever its
    type: a copy leaves no source id in the destination, even in a node that should not
    have one.
    """

    def __init__(
        self,
        src: Repository,
        dst: Repository,
        data: BlobWriter,
        trees: RepositoryWriter,
        progress: CopyProgress | None = None,
    ) -> None:
        self.src = src
        self.data = data
        self.trees = trees
        self.progress = progress or NullCopyProgress()
        self.earlier = EarlierCopy(src, dst)
        self.chunks = IdMap()
        self.tree_ids: dict[bytes, bytes] = {}
        self.read = ReadCounts()
        self.paired = 0  # chunks an earlier copy named, not read

    def translate(self, root: bytes, hint: Hint | None = None) -> bytes:
        """The destination id of the source tree ``root``, once it and everything below it
        is stored in the destination (or queued in its writers: flushing is the caller's).
        ``hint``: an earlier copy (see :mod:`kaikyo.snapshot.earlier`)."""
        if root not in self.tree_ids:
            found = self._collect(root, hint)
            self.paired += self.earlier.pair_into(self.chunks)
            self._copy_chunks(found.chunks)
            del found.chunks
            for tree_id in found.order:
                self._rewrite(tree_id, found)
        return self.tree_ids[root]

    # ---- step 1: the trees ------------------------------------------------------------

    def _collect(self, root: bytes, hint: Hint | None) -> _Found:
        found = _Found()
        level: Level = [(root, hint)]
        seen = {root}
        while level:
            level = self.earlier.settle(level, self.tree_ids)
            below: Level = []
            for lo in range(0, len(level), LEVEL_SLICE):
                below += self._read_level(level[lo : lo + LEVEL_SLICE], found, seen)
            level = below
        found.order = self._deepest_first(root, found.children)
        return found

    def _read_level(self, part: Level, found: _Found, seen: set[bytes]) -> Level:
        """Read ``part``'s trees; their subtrees not seen yet, with their hints."""
        opened = self.earlier.open(part)
        below: Level = []
        for tree_id, raw in read_blobs(self.src, b"".join(t for t, _ in part), BLOB_TREE):
            self._counted(len(raw))
            found.keep(tree_id, raw)
            was: Opened | None = opened.get(tree_id)
            kids = found.children[tree_id] = []
            for node in decode_nodes(raw):
                if node.content:
                    found.chunks += node.content
                hint = self.earlier.follow(was, node)
                sub = node.subtree
                if sub is not None:
                    kids.append(sub)
                    if sub not in seen and sub not in self.tree_ids:
                        seen.add(sub)
                        below.append((sub, hint))
        return below

    def _deepest_first(self, root: bytes, children: dict[bytes, list[bytes]]) -> list[bytes]:
        """The trees to rewrite, each after every tree it names (post-order, iterative: a
        deep tree must not exhaust Python's stack)."""
        order: list[bytes] = []
        visited: set[bytes] = set()
        stack: list[tuple[bytes, bool]] = [(root, False)]
        while stack:
            tree_id, expanded = stack.pop()
            if expanded:
                order.append(tree_id)
                continue
            if tree_id in visited or tree_id in self.tree_ids:
                continue
            visited.add(tree_id)
            stack.append((tree_id, True))
            stack.extend((kid, False) for kid in children.get(tree_id, ()) if kid not in visited)
        return order

    # ---- step 2: the chunks -----------------------------------------------------------

    def _copy_chunks(self, chunks: bytearray) -> None:
        todo = self.chunks.unknown(chunks)
        if not todo:
            return
        src_ids, dst_ids = bytearray(), bytearray()
        batch: list[tuple[bytes, bytes]] = []
        size = 0
        for bid, plain in read_blobs(self.src, todo, BLOB_DATA):
            batch.append((bid, plain))
            size += len(plain)
            if size >= SAVE_BATCH:
                self._save(batch, src_ids, dst_ids)
                batch, size = [], 0
        self._save(batch, src_ids, dst_ids)
        self.chunks.add(src_ids, dst_ids)

    def _save(
        self, batch: list[tuple[bytes, bytes]], src_ids: bytearray, dst_ids: bytearray
    ) -> None:
        if not batch:
            return
        new_ids = self.data.save_many([memoryview(plain) for _, plain in batch])
        for (bid, plain), new in zip(batch, new_ids, strict=True):
            src_ids += bid
            dst_ids += new
            self._counted(len(plain))

    def _counted(self, nbytes: int) -> None:
        self.read.blobs += 1
        self.read.bytes += nbytes
        self.progress.blobs_read(1, nbytes)

    # ---- step 3: the trees, rewritten ---------------------------------------------------

    def _rewrite(self, tree_id: bytes, found: _Found) -> None:
        raw = found.raw.pop(tree_id, None)
        if raw is None:
            raw = self._load_tree(tree_id)
        nodes = decode_nodes(raw)
        named = [n for n in nodes if n.content]
        if named:
            new = self.chunks.translate(b"".join(n.content or b"" for n in named))
            at = 0
            for node in named:
                end = at + len(node.content or b"")
                node.content, at = new[at:end], end
        for node in nodes:
            if node.subtree is not None:
                node.subtree = self.tree_ids[node.subtree]
        self.tree_ids[tree_id] = self.trees.save_tree(encode_nodes(nodes))

    def _load_tree(self, tree_id: bytes) -> bytes:
        """A tree step 1 could not keep, read again (and checked again)."""
        for _, raw in read_blobs(self.src, tree_id, BLOB_TREE):
            return raw
        raise IntegrityError(f"tree {short(tree_id)} is missing from the source")
