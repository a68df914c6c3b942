"""Pack assembly on disk and bounded parallel upload.

``PackWriter`` appends sealed blobs to a *spool file* as they are sealed, hashing as it goes,
and when the pack reaches its target size appends the sealed header and hands the file to an
:class:`Uploader`. A pack is therefore never held in memory (restic writes its packs to
temporary files for the same reason): a worker's memory does not grow with the pack size or
with the packs in flight. For the local store the spool lives in the store's own temporary
directory, so the finished pack is linked into place without a copy; for a haven it is
streamed from the file. The uploader runs a few uploads at once on threads (network and disk
I/O release the GIL), so a long fat pipe stays full while the caller goes on sealing; at most
``max_in_flight`` finished packs wait for upload. A pack's name is the SHA-256 of its bytes,
so a retried upload that finds the object already there has succeeded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from kaikyo.clock import SYSTEM_CLOCK
from kaikyo.core.compression import Compressor
from kaikyo.core.constants import DATA_PREFIX
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.format.pack import ENTRY, PackEntry, build_trailer_raw, decode_entries
from kaikyo.core.ids import short
from kaikyo.repo.process import pid_alive
from kaikyo.store import ObjectExists, Store
from kaikyo.store.errors import map_os_error

FinishedPack = tuple[bytes, list[PackEntry]]
RawPack = tuple[bytes, bytes, int]  # pack id, encoded entry table, entry count

SPOOL_PREFIX = "kaikyo-pack-"
SPOOL_WRITE = 1024 * 1024  # small blobs are gathered into writes of about this size
STALE_SPOOL_SECONDS = 24 * 3600


def pack_name(pack_id: bytes) -> str:
    h = pack_id.hex()
    return f"{DATA_PREFIX}{h[:2]}/{h}"


def put_content_addressed(store: Store, name: str, data: bytes) -> None:
    """Put an object named by its own hash; an existing object is the same bytes."""
    try:
        store.put(name, data)
    except ObjectExists:
        pass


def default_spool_dir() -> str:
    """Spool files for stores that cannot take them in place: ``$TMPDIR/kaikyo-<uid>``."""
    path = os.path.join(tempfile.gettempdir(), f"kaikyo-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def spool_dir_for(store: Store) -> str:
    """The store's own spool directory, or ``$TMPDIR/kaikyo-<uid>``."""
    in_store = store.spool_dir()
    return in_store if in_store is not None else default_spool_dir()


def _host_tag() -> str:
    """Eight hex digits naming this host in spool file names (a store's temporary directory
    may be shared by several hosts, where a process id means nothing)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _spool_prefix(pid: int) -> str:
    return f"{SPOOL_PREFIX}{_host_tag()}-{pid}-"


def remove_spools_of(directory: str, pids: list[int]) -> int:
    """Remove the spool files of processes that were stopped (a worker terminated while it
    was building a pack cannot clean up after itself)."""
    prefixes = tuple(_spool_prefix(pid) for pid in pids)
    removed = 0
    with contextlib.suppress(OSError), os.scandir(directory) as it:
        for entry in it:
            if prefixes and entry.name.startswith(prefixes):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def clean_stale_spools(directory: str, now: float | None = None) -> int:
    """Remove spool files that killed processes left behind: at once if the process was on
    this host and is gone, else after a day."""
    now = SYSTEM_CLOCK.now() if now is None else now
    mine = f"{SPOOL_PREFIX}{_host_tag()}-"
    removed = 0
    with contextlib.suppress(OSError), os.scandir(directory) as it:
        for entry in it:
            if not entry.name.startswith(SPOOL_PREFIX):
                continue
            with contextlib.suppress(OSError, ValueError):
                dead = now - entry.stat().st_mtime > STALE_SPOOL_SECONDS
                if entry.name.startswith(mine):
                    dead = dead or not pid_alive(int(entry.name[len(mine) :].split("-", 1)[0]))
                if dead:
                    os.unlink(entry.path)
                    removed += 1
    return removed


class Spool:
    """One pack being written to a temporary file, its SHA-256 computed on the way."""

    def __init__(self, directory: str) -> None:
        name = f"{_spool_prefix(os.getpid())}{secrets.token_hex(8)}.tmp"
        self.path = os.path.join(directory, name)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise map_os_error(exc, self.path) from None
        self._sha = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        self.size += len(data)
        if self._pending_size >= SPOOL_WRITE:
            self._drain()

    def _drain(self) -> None:
        if not self._pending:
            return
        block = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        self._sha.update(block)
        view = memoryview(block)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.discard()
            raise map_os_error(exc, "a pack") from None

    def finish(self) -> bytes:
        """Write what is gathered, close the file; return the pack id (SHA-256 of the bytes)."""
        self._drain()
        os.close(self._fd)
        self._fd = -1
        return self._sha.digest()

    def discard(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            os.unlink(self.path)


class Uploader:
    """Runs puts of finished spool files on a small thread pool, at most ``max_in_flight``
    waiting or running at once."""

    def __init__(self, store: Store, max_in_flight: int = 4) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="upload")
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._futures: list[Future[None]] = []
        self.spool_dir = spool_dir_for(store)
        clean_stale_spools(self.spool_dir)

    def submit(self, name: str, spool_path: str, on_done: Callable[[], None] | None = None) -> None:
        """Upload the file at ``spool_path`` as ``name``, then delete the file."""
        self._raise_first_error()
        self._slots.acquire()

        def run() -> None:
            try:
                try:
                    self._store.put_file(name, spool_path)
                except ObjectExists:
                    pass  # named by its hash: the same bytes are already there
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(spool_path)
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


def finished_pack(raw: RawPack) -> FinishedPack:
    """A pack's entries decoded, for the callers that look at them one by one."""
    pack_id, table, count = raw
    return pack_id, list(decode_entries(memoryview(table), count, short(pack_id)))


class PackWriter:
    """Appends sealed blobs to a spool file; emits finished packs through ``on_pack`` once
    they are durable in the store.

    The entries are kept encoded, as the pack header stores them (45 bytes each, against
    about 250 as tuples): a backup's trees all go to one pack, tens of thousands of them.
    """

    def __init__(
        self,
        cipher: Cipher,
        compressor: Compressor,
        target_size: int,
        uploader: Uploader,
        on_pack: Callable[[RawPack], None],
    ) -> None:
        self._cipher = cipher
        self._compressor = compressor
        self._target = target_size
        self._uploader = uploader
        self._on_pack = on_pack
        self._spool: Spool | None = None
        self._table = bytearray()
        self._count = 0

    @property
    def buffered(self) -> int:
        return self._spool.size if self._spool is not None else 0

    def add(self, blob_type: int, blob_id: bytes, sealed: bytes, raw_length: int) -> None:
        if self._spool is None:
            self._spool = Spool(self._uploader.spool_dir)
        self._table += ENTRY.pack(blob_type, blob_id, self._spool.size, len(sealed), raw_length)
        self._count += 1
        self._spool.write(sealed)
        if self._spool.size >= self._target:
            self.flush()

    def flush(self) -> None:
        """Finish the current pack (if any) and queue its upload."""
        spool = self._spool
        if spool is None or not self._count:
            return
        spool.write(build_trailer_raw(self._cipher, self._compressor, self._table, self._count))
        pack_id = spool.finish()
        finished = (pack_id, bytes(self._table), self._count)
        self._spool, self._table, self._count = None, bytearray(), 0
        self._uploader.submit(pack_name(pack_id), spool.path, lambda: self._on_pack(finished))

    def discard(self) -> None:
        """Drop the pack being built (an aborted session): its blobs are not referenced."""
        if self._spool is not None:
            self._spool.discard()
        self._spool, self._table, self._count = None, bytearray(), 0
