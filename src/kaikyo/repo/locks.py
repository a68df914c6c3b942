"""Repository locks: shared for backup, exclusive for prune and repair.

A lock is a sealed object ``locks/H`` naming host, pid and time. Acquire = write ours, then look
at the others; on conflict (or any failure) ours is withdrawn. A lock is stale when its process
is gone on this host, or when it has not been refreshed for ``STALE_AFTER`` seconds (judged by
the store's receive time where the store knows it, so a client's wrong clock cannot make a live
lock look stale). Holders refresh every ``REFRESH_EVERY`` seconds from a background thread.

Locks are hostile objects too. One that does not authenticate is reported by name and ignored
(``kaikyo unlock`` removes it): 200 random bytes under ``locks/`` must not stop every command.
A lock received more than ``STALE_AFTER`` after the time written inside it is an old lock put
back by someone who kept a copy (no key is needed to replay one): it counts as stale.
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
from kaikyo.core.constants import KIND_LOCK, LOCK_PREFIX, MAX_LOCK_SIZE
from kaikyo.core.format.envelope import open_object, seal_object
from kaikyo.core.ids import object_id
from kaikyo.errors import IntegrityError, LockedError
from kaikyo.repo.badobjects import OBJECT_ERRORS, reason_of
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
        return bool(self.why_stale(now, host))

    def why_stale(self, now: float, host: str) -> str:
        """Why this lock no longer counts, or "" while it does."""
        if self.host == host and not pid_alive(self.pid):
            return "its process is gone"
        if self.received is not None and self.received - self.time > STALE_AFTER:
            return "it was written long before it was stored (an old lock put back)"
        seen = self.received if self.received is not None else self.time
        if now - seen > STALE_AFTER:
            return "it has not been refreshed for 30 minutes"
        return ""

    def describe(self) -> str:
        kind = "exclusive" if self.exclusive else "shared"
        return f"{kind} lock by pid {self.pid} on {self.host}"


def _parse(doc: object) -> tuple[str, int, bool, float]:
    if not isinstance(doc, dict):
        raise ValueError("lock is not a JSON object")
    host, pid, exclusive, when = (
        doc.get("host"),
        doc.get("pid"),
        doc.get("exclusive"),
        doc.get("time"),
    )
    if (
        not isinstance(host, str)
        or isinstance(pid, bool)
        or not isinstance(pid, int)
        or not isinstance(exclusive, bool)
        or isinstance(when, bool)
        or not isinstance(when, int | float)
    ):
        raise ValueError("lock fields have the wrong types")
    return host, pid, exclusive, float(when)


def list_locks(repo: Repository) -> list[LockInfo]:
    """Every lock that authenticates; the others are reported as bad objects and skipped."""
    out = []
    for info in repo.store.list(LOCK_PREFIX):
        try:
            if info.size > MAX_LOCK_SIZE:
                raise IntegrityError(f"{info.size} bytes is too large for a lock")
            raw = repo.store.get(info.name)
            host, pid, exclusive, when = _parse(
                json.loads(open_object(repo.cipher, repo.compressor, KIND_LOCK, raw, info.name))
            )
        except ObjectNotFound:
            continue  # released meanwhile
        except OBJECT_ERRORS as exc:
            repo.bad.report(info.name, reason_of(exc))
            continue
        out.append(LockInfo(info.name, host, pid, exclusive, when, info.mtime))
    return out


class Lock:
    """A held lock; use as a context manager."""

    def __init__(self, repo: Repository, clock: Clock, exclusive: bool) -> None:
        self.repo = repo
        # Its own reference: a read-only command's repository is put over a read-only view
        # once the lock is held, and the lock is still refreshed and released through this.
        self.store = repo.store
        self.clock = clock
        self.exclusive = exclusive
        self.host = socket.gethostname()
        self.name = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stale: list[LockInfo] = []  # stale locks of others, ignored by acquire

    def _write(self) -> str:
        doc: dict[str, Any] = {
            "host": self.host,
            "pid": os.getpid(),
            "time": self.clock.now(),
            "exclusive": self.exclusive,
            "nonce": os.urandom(8).hex(),
        }
        sealed = seal_object(
            self.repo.cipher, self.repo.compressor, KIND_LOCK, json.dumps(doc).encode()
        )
        name = LOCK_PREFIX + object_id(sealed)
        put_content_addressed(self.store, name, sealed)
        return name

    def acquire(self) -> Lock:
        self.name = self._write()
        try:
            now = self.clock.now()
            for other in list_locks(self.repo):
                if other.name == self.name:
                    continue
                if other.stale(now, self.host):
                    self.stale.append(other)
                    continue
                if self.exclusive or other.exclusive:
                    raise LockedError(f"repository is locked: {other.describe()}")
        except BaseException:
            # Whatever stopped us (a conflict, a store error, Ctrl-C): never leave ours behind.
            with contextlib.suppress(StoreError):
                self._remove(self.name)
            self.name = ""
            raise
        self._thread = threading.Thread(target=self._refresh_loop, daemon=True, name="lock-refresh")
        self._thread.start()
        return self

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_EVERY):
            with contextlib.suppress(StoreError):
                old, self.name = self.name, self._write()
                self._remove(old)

    def _remove(self, name: str) -> None:
        with contextlib.suppress(ObjectNotFound):
            self.store.delete(name)

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


@dataclass(frozen=True, slots=True)
class Removal:
    name: str  # the lock object
    lock: str  # what it is, as LockInfo.describe() says
    reason: str  # why it was removed


@dataclass
class Unlocked:
    """What ``unlock`` did: the locks it removed, and those it could not remove."""

    removed: list[Removal]
    refused: list[str]


def remove_stale_locks(repo: Repository, clock: Clock, remove_all: bool = False) -> Unlocked:
    """Remove stale locks and locks that do not authenticate (all locks with ``remove_all``).

    A haven lets only the token that made a lock, or an admin token, remove it; a refusal is
    reported, not raised, so every other lock is still dealt with.
    """
    result = Unlocked([], [])
    host = socket.gethostname()
    now = clock.now()
    victims = [
        Removal(info.name, info.describe(), why or "--remove-all")
        for info in list_locks(repo)
        if (why := info.why_stale(now, host)) or remove_all
    ]
    victims += [
        Removal(bad.name, f"unreadable lock {bad.name}", bad.reason)
        for bad in repo.bad.of_kind(LOCK_PREFIX)
    ]
    for victim in victims:
        try:
            repo.store.delete(victim.name)
        except ObjectNotFound:
            pass
        except StoreError as exc:
            result.refused.append(f"{victim.lock}: {exc.message}")
            continue
        repo.bad.forget(victim.name)
        result.removed.append(victim)
    return result
