"""Repository locks: shared for backup, exclusive for prune and repair.

A lock is a sealed object ``locks/H`` naming host, pid and time. Acquire = write ours, then look
at the others; on conflict ours is withdrawn. A lock is stale when its process is gone on this
host, or when it has not been refreshed for ``STALE_AFTER`` seconds (judged by the store's
receive time where the store knows it, so a client's wrong clock cannot make a live lock look
stale). Holders refresh every ``REFRESH_EVERY`` seconds from a background thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from kaikyo.clock import Clock
from kaikyo.core.format.constants import KIND_LOCK, LOCK_PREFIX
from kaikyo.core.format.envelope import open_object, seal_object
from kaikyo.core.ids import object_id
from kaikyo.errors import IntegrityError, LockedError
from kaikyo.repo.packer import put_content_addressed
from kaikyo.repo.process import pid_alive
from kaikyo.repo.repository import Repository
from kaikyo.store import ObjectNotFound, StoreError

STALE_AFTER = 30 * 60
REFRESH_EVERY = 5 * 60


@dataclass(frozen=True, slots=True)
class LockInfo:
    name: str
    host: str
    pid: int
    exclusive: bool
    time: float
    received: float | None

    def stale(self, now: float, host: str) -> bool:
        if self.host == host and not pid_alive(self.pid):
            return True
        seen = self.received if self.received is not None else self.time
        return now - seen > STALE_AFTER

    def describe(self) -> str:
        kind = "exclusive" if self.exclusive else "shared"
        return f"{kind} lock by pid {self.pid} on {self.host}"


def list_locks(repo: Repository) -> list[LockInfo]:
    out = []
    for info in repo.store.list(LOCK_PREFIX):
        try:
            raw = repo.store.get(info.name)
            doc = json.loads(open_object(repo.cipher, repo.compressor, KIND_LOCK, raw, info.name))
            out.append(LockInfo(info.name, str(doc["host"]), int(doc["pid"]),
                                bool(doc["exclusive"]), float(doc["time"]), info.mtime))
        except (ObjectNotFound, IntegrityError, ValueError, KeyError):
            continue  # vanished meanwhile, or not ours to read
    return out


class Lock:
    """A held lock; use as a context manager."""

    def __init__(self, repo: Repository, clock: Clock, exclusive: bool) -> None:
        self.repo = repo
        self.clock = clock
        self.exclusive = exclusive
        self.host = socket.gethostname()
        self.name = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stale: list[LockInfo] = []  # stale locks of others, ignored by acquire

    def _write(self) -> str:
        doc: dict[str, Any] = {"host": self.host, "pid": os.getpid(), "time": self.clock.now(),
                               "exclusive": self.exclusive, "nonce": os.urandom(8).hex()}
        sealed = seal_object(self.repo.cipher, self.repo.compressor, KIND_LOCK,
                             json.dumps(doc).encode())
        name = LOCK_PREFIX + object_id(sealed)
        put_content_addressed(self.repo.store, name, sealed)
        return name

    def acquire(self) -> Lock:
        self.name = self._write()
        now = self.clock.now()
        for other in list_locks(self.repo):
            if other.name == self.name:
                continue
            if other.stale(now, self.host):
                self.stale.append(other)
                continue
            if self.exclusive or other.exclusive:
                self._remove(self.name)
                raise LockedError(f"repository is locked: {other.describe()}")
        self._thread = threading.Thread(target=self._refresh_loop, daemon=True,
                                        name="lock-refresh")
        self._thread.start()
        return self

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_EVERY):
            with contextlib.suppress(StoreError):
                old, self.name = self.name, self._write()
                self._remove(old)

    def _remove(self, name: str) -> None:
        with contextlib.suppress(ObjectNotFound):
            self.repo.store.delete(name)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.name:
            with contextlib.suppress(StoreError):
                self._remove(self.name)
            self.name = ""

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_lock(repo: Repository, clock: Clock, exclusive: bool) -> Lock:
    return Lock(repo, clock, exclusive).acquire()


def remove_stale_locks(repo: Repository, clock: Clock, remove_all: bool = False) -> list[LockInfo]:
    removed = []
    host = socket.gethostname()
    now = clock.now()
    for info in list_locks(repo):
        if remove_all or info.stale(now, host):
            with contextlib.suppress(ObjectNotFound):
                repo.store.delete(info.name)
            removed.append(info)
    return removed
