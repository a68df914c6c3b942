"""Pack assembly and bounded parallel upload.

``PackWriter`` collects sealed blobs into a buffer and, when it reaches the target size,
appends the sealed header and hands the pack to an :class:`Uploader`. The uploader runs a few
uploads at once on threads (network and disk I/O release the GIL), so a long fat pipe stays
full while the caller goes on sealing; at most ``max_in_flight`` packs are buffered, which bounds
memory. A pack's name is the SHA-256 of its bytes, so a retried upload that finds the object
already there has succeeded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from kaikyo.core.compression import Compressor
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.format.constants import DATA_PREFIX
from kaikyo.core.format.pack import PackEntry, build_trailer
from kaikyo.core.ids import object_id
from kaikyo.store import ObjectExists, Store

FinishedPack = tuple[bytes, list[PackEntry]]


def pack_name(pack_id: bytes) -> str:
    h = pack_id.hex()
    return f"{DATA_PREFIX}{h[:2]}/{h}"


def put_content_addressed(store: Store, name: str, data: bytes) -> None:
    """Put an object named by its own hash; an existing object is the same bytes."""
    try:
        store.put(name, data)
    except ObjectExists:
        pass


class Uploader:
    """Runs puts on a small thread pool with a bound on buffered packs."""

    def __init__(self, store: Store, max_in_flight: int = 4) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="upload")
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._futures: list[Future[None]] = []

    def submit(self, name: str, data: bytes, on_done: Callable[[], None] | None = None) -> None:
        self._raise_first_error()
        self._slots.acquire()

        def run() -> None:
            try:
                put_content_addressed(self._store, name, data)
            finally:
                self._slots.release()
            # Inside the task, not a done-callback: callbacks run after the future is marked
            # done, so wait() could return before the pack was reported and indexed.
            if on_done is not None:
                on_done()

        self._futures.append(self._pool.submit(run))

    def _raise_first_error(self) -> None:
        still = []
        for fut in self._futures:
            if fut.done():
                fut.result()  # re-raises the upload's error in the caller
            else:
                still.append(fut)
        self._futures = still

    def wait(self) -> None:
        """Block until every submitted upload finished; re-raise the first failure."""
        for fut in self._futures:
            fut.result()
        self._futures = []

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class PackWriter:
    """Accumulates sealed blobs; emits finished packs through ``on_pack`` after upload."""

    def __init__(self, cipher: Cipher, compressor: Compressor, target_size: int,
                 uploader: Uploader, on_pack: Callable[[FinishedPack], None]) -> None:
        self._cipher = cipher
        self._compressor = compressor
        self._target = target_size
        self._uploader = uploader
        self._on_pack = on_pack
        self._parts: list[bytes] = []
        self._entries: list[tuple[int, bytes, int, int, int]] = []
        self._size = 0

    @property
    def buffered(self) -> int:
        return self._size

    def add(self, blob_type: int, blob_id: bytes, sealed: bytes, raw_length: int) -> None:
        self._entries.append((blob_type, blob_id, self._size, len(sealed), raw_length))
        self._parts.append(sealed)
        self._size += len(sealed)
        if self._size >= self._target:
            self.flush()

    def flush(self) -> None:
        """Finish the current pack (if any) and queue its upload."""
        if not self._entries:
            return
        self._parts.append(build_trailer(self._cipher, self._compressor, self._entries))
        data = b"".join(self._parts)
        pack_id = bytes.fromhex(object_id(data))
        finished = (pack_id, [PackEntry(*e) for e in self._entries])
        self._parts, self._entries, self._size = [], [], 0
        self._uploader.submit(pack_name(pack_id), data, lambda: self._on_pack(finished))
