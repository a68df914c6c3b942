"""Lock conflicts and staleness, judged by an injected clock.

Repositories here are in memory (not the shared on-disk ``repository`` fixture): a memory
store gives no receive time, so a lock's own time, the fake clock's, decides. On disk every
lock would be received now, long after the clock's 2011, and look like an old one put back.
"""

from __future__ import annotations

import pytest

from kaikyo.errors import LockedError
from kaikyo.repo import Lock, Repository, list_locks, remove_stale_locks
from kaikyo.repo.locks import STALE_AFTER
from kaikyo.store.memory import MemoryStore
from kaikyo.testing.clock import FakeClock
from kaikyo.testing.repos import new_repository

T0 = 1_309_478_400.0


def other_host(repo: Repository, clock: FakeClock, exclusive: bool) -> Lock:
    lock = Lock(repo, clock, exclusive)
    lock.host = "another-host"  # its pid means nothing here: only time can make it stale
    return lock.acquire()


def test_shared_locks_coexist_exclusive_conflicts() -> None:
    repo = new_repository()
    clock = FakeClock(T0)
    a = other_host(repo, clock, exclusive=False)
    b = Lock(repo, clock, exclusive=False).acquire()
    with pytest.raises(LockedError, match="shared lock by pid"):
        Lock(repo, clock, exclusive=True).acquire()
    a.release()
    b.release()
    assert list_locks(repo) == []


def test_a_lock_not_refreshed_goes_stale_by_the_clock() -> None:
    repo = new_repository()
    clock = FakeClock(T0)
    old = other_host(repo, clock, exclusive=True)
    with pytest.raises(LockedError):
        Lock(repo, clock, exclusive=False).acquire()
    clock.advance(STALE_AFTER + 1)
    mine = Lock(repo, clock, exclusive=True).acquire()  # the old one no longer counts
    mine.release()
    result = remove_stale_locks(repo, clock)
    [removal] = result.removed
    assert removal.lock.endswith("on another-host") and "refreshed" in removal.reason
    old.release()  # already gone: releasing is harmless
    assert list_locks(repo) == []


def test_refused_acquire_leaves_no_lock_behind() -> None:
    repo = new_repository()
    clock = FakeClock(T0)
    held = other_host(repo, clock, exclusive=True)
    for _ in range(3):
        with pytest.raises(LockedError):
            Lock(repo, clock, exclusive=True).acquire()
    assert len(list_locks(repo)) == 1
    held.release()


class _FailingList:
    """A store whose listing of locks fails (a link cut right after our lock was written)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def list(self, prefix: str = "") -> object:
        from kaikyo.store import StoreUnavailable

        if prefix == "locks/":
            raise StoreUnavailable("haven unreachable: cut")
        return self._store.list(prefix)


def test_a_failed_acquire_removes_its_own_lock() -> None:
    from kaikyo.store import StoreUnavailable

    store = MemoryStore()
    repo = new_repository(store)
    repo.store = _FailingList(store)  # type: ignore[assignment]
    with pytest.raises(StoreUnavailable):
        Lock(repo, FakeClock(T0), exclusive=True).acquire()
    assert list(store.list("locks/")) == []


def test_a_replayed_lock_is_stale() -> None:
    """An old lock put back (its own time long before it was stored) does not block."""
    from kaikyo.repo.locks import LockInfo

    replayed = LockInfo("locks/x", "another-host", 1, True, T0, T0 + STALE_AFTER + 5)
    assert "put back" in replayed.why_stale(T0 + STALE_AFTER + 6, "here")
    fresh = LockInfo("locks/y", "another-host", 1, True, T0, T0 + 2)
    assert fresh.why_stale(T0 + 3, "here") == ""
