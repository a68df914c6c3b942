"""Blobs and trees for the mount: loaded when the kernel asks, kept in bounded caches.

A read of a file arrives as requests of at most 128 KiB, a chunk is 256 KiB to 4 MiB: each
chunk is loaded (one ranged read of its pack, authenticated and opened, through the
repository's own reading path) once and cut for the requests that follow. Several kernel
threads asking for one chunk at once wait for the one load. Trees are decoded once and looked
up by name.

The index may be reloaded while the mount runs (new snapshots): a lookup and a reload never
overlap (``index_lock``), so a lookup never sees the index half rebuilt.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from kaikyo.core.format.tree import TreeNode, decode_nodes
from kaikyo.repo import BlobLocation

BLOB_CACHE_BYTES = 64 * 1024 * 1024
TREE_CACHE_COUNT = 1024

K = TypeVar("K")
V = TypeVar("V")


class BlobReader(Protocol):
    """What the mount needs of a :class:`kaikyo.repo.Repository`."""

    def blob_location(self, blob_id: bytes) -> BlobLocation: ...

    def read_pack(self, pack_id: bytes, offset: int = 0, length: int | None = None) -> bytes: ...

    def open_sealed_blob(
        self, loc: BlobLocation, blob_id: bytes, sealed: bytes | memoryview
    ) -> bytes: ...

    def load_index(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Listing:
    """One directory's nodes, in their stored order, and by name."""

    nodes: list[TreeNode]
    by_name: dict[bytes, TreeNode]


class Lru(Generic[K, V]):
    """A thread-safe cache that drops the least recently used entries beyond ``limit``, as
    measured by ``weight``; a value that weighs more than a quarter of it is not kept. Loads
    of one key at once are made once (the others wait for it)."""

    def __init__(self, limit: int, weight: Callable[[V], int]) -> None:
        self.limit = limit
        self.weight = weight
        self.held = 0
        self._items: OrderedDict[K, V] = OrderedDict()
        self._loading: dict[K, Future[V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                return value
            pending = self._loading.get(key)
            if pending is None:
                mine: Future[V] = Future()
                self._loading[key] = mine
        if pending is not None:
            return pending.result()
        try:
            value = load()
        except BaseException as exc:
            with self._lock:
                del self._loading[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            del self._loading[key]
            self._keep(key, value)
        mine.set_result(value)
        return value

    def _keep(self, key: K, value: V) -> None:
        w = self.weight(value)
        if w * 4 > self.limit:
            return
        self._items[key] = value
        self.held += w
        while self.held > self.limit:
            _, old = self._items.popitem(last=False)
            self.held -= self.weight(old)


class Blobs:
    """The mount's way to a repository's blobs and trees (thread-safe)."""

    def __init__(self, repo: BlobReader, cache_bytes: int = BLOB_CACHE_BYTES) -> None:
        self.repo = repo
        self.index_lock = threading.Lock()
        self._blobs: Lru[bytes, bytes] = Lru(cache_bytes, len)
        self._trees: Lru[bytes, Listing] = Lru(TREE_CACHE_COUNT, lambda _: 1)

    def location(self, blob_id: bytes) -> BlobLocation:
        with self.index_lock:
            return self.repo.blob_location(blob_id)

    def load(self, blob_id: bytes) -> bytes:
        """A blob's plaintext, authenticated (IntegrityError, StoreError otherwise)."""
        return self._blobs.get(blob_id, lambda: self._load(blob_id))

    def _load(self, blob_id: bytes) -> bytes:
        loc = self.location(blob_id)
        sealed = self.repo.read_pack(loc.pack_id, loc.offset, loc.length)
        return self.repo.open_sealed_blob(loc, blob_id, sealed)

    def tree(self, tree_id: bytes) -> Listing:
        """A directory's nodes, decoded once (IntegrityError if the tree is malformed)."""

        def load() -> Listing:
            nodes = decode_nodes(self._load(tree_id))
            return Listing(nodes, {n.name: n for n in nodes})

        return self._trees.get(tree_id, load)

    def reload_index(self) -> None:
        """Load the index files written since (a backup's, while mounted)."""
        with self.index_lock:
            self.repo.load_index()
