"""Pure parts of the WAN transport: upload schedules, rate limiting, backoff, wire mapping."""

from __future__ import annotations

import random
import time

import pytest

from kaikyo.errors import UsageError
from kaikyo.store import wire
from kaikyo.store.errors import (
    InvalidRange,
    ObjectExists,
    StoreNoSpace,
    StoreQuotaExceeded,
    StoreUnavailable,
)
from kaikyo.store.ratelimit import RateLimiter, Schedule, Window, parse_rate, parse_schedule
from kaikyo.store.retrying import RetryPolicy, call_with_retry
from kaikyo.testing.clock import FakeClock


def local_epoch(hour: int, minute: int = 0) -> float:
    return time.mktime((2026, 6, 1, hour, minute, 0, 0, 0, -1))


def test_parse_schedule_and_rates() -> None:
    s = parse_schedule("09:00-20:00=100M, 22:00-06:00=1Gi, *=0")
    assert s.windows == (Window(540, 1200, 100 * 2**20), Window(1320, 360, 2**30))
    assert s.rate_at(local_epoch(12)) == 100 * 2**20
    assert s.rate_at(local_epoch(23, 30)) == 2**30
    assert s.rate_at(local_epoch(3)) == 2**30
    assert s.rate_at(local_epoch(21)) == 0
    assert parse_schedule("5M") == Schedule((), 5 * 2**20)
    assert parse_rate("1.5KiB/s") == 1536
    assert parse_rate("1024") == 2**20  # a plain number is KiB/s, as restic's
    assert parse_schedule("*=512") == Schedule((), 512 * 1024)
    for bad in ("09:00-25:00=1M", "9-17=1M", "fast", "09:00-17:00=lots"):
        with pytest.raises(UsageError):
            parse_schedule(bad)


def test_rate_limiter_holds_the_rate() -> None:
    clock = FakeClock(local_epoch(10))
    limiter = RateLimiter(parse_schedule("09:00-20:00=1M,*=0"), clock)
    for _ in range(40):
        limiter.acquire(256 * 1024)
    assert clock.slept == pytest.approx(40 * 256 * 1024 / 2**20, rel=0.1)
    clock.set(local_epoch(21))  # the wall clock: the schedule's window is over
    before = clock.slept
    limiter.acquire(10**9)  # unlimited outside the window
    assert clock.slept == before


def test_retry_backs_off_then_succeeds_or_gives_up() -> None:
    clock = FakeClock(0)
    attempts: list[int] = []

    def flaky(n: int) -> str:
        attempts.append(n)
        if n < 3:
            raise StoreUnavailable("down")
        return "ok"

    policy = RetryPolicy(initial_delay=1, max_delay=4, max_elapsed=100)
    assert call_with_retry(flaky, policy, clock, random.Random(1)) == "ok"
    assert attempts == [0, 1, 2, 3]
    assert 0.5 + 1 + 2 <= clock.slept <= 1 + 2 + 4
    with pytest.raises(StoreUnavailable):
        call_with_retry(lambda n: flaky(-1), RetryPolicy(max_elapsed=5), FakeClock(0))
    with pytest.raises(ObjectExists):  # permanent errors are never retried
        call_with_retry(lambda n: (_ for _ in ()).throw(ObjectExists("x")), policy, clock)


def test_wire_table_round_trips() -> None:
    for cls, status in wire.ERROR_TABLE:
        exc = cls("m")
        assert wire.status_for(exc) == status
        body = wire.error_body(exc)
        assert type(wire.error_from_response(status, body["error"], body["message"])) is cls
    assert isinstance(wire.error_from_response(507, None, None), StoreQuotaExceeded)
    assert isinstance(wire.error_from_response(507, "StoreNoSpace", "x"), StoreNoSpace)
    assert isinstance(wire.error_from_response(502, None, None), StoreUnavailable)
    assert wire.parse_range("bytes=10-19", 100) == (10, 20)
    assert wire.parse_range("bytes=90-", 100) == (90, 100)
    for bad in ("bytes=90-100", "bytes=5-1", "items=1-2", "bytes=1-2,4-5", "bytes=-5"):
        with pytest.raises(InvalidRange):
            wire.parse_range(bad, 100)


def test_rate_limiter_is_shared_with_forked_children() -> None:
    import os

    clock = FakeClock(local_epoch(10))
    limiter = RateLimiter(parse_schedule("*=1000000B"), clock)  # 1e6 bytes/s
    clock.advance(1.0)  # a full bucket, in parent and child alike
    pid = os.fork()
    if pid == 0:
        limiter.acquire(500_000)  # the child spends it
        os._exit(0)
    os.waitpid(pid, 0)
    before = clock.slept
    limiter.acquire(500_000)
    assert clock.slept - before == pytest.approx(0.5, rel=0.05)


def test_http_store_in_a_forked_child_ignores_a_lock_the_parent_held() -> None:
    """A backup forks its workers while upload threads run: a lock one of them held at the
    fork is never released in the child, so reopen() must not wait for it."""
    import os

    from kaikyo.store import StoreOptions, open_store

    store = open_store("http://127.0.0.1:9/tenant/repo", StoreOptions(token="t"))
    store._lock.acquire()  # type: ignore[attr-defined]  # as if an upload thread held it
    pid = os.fork()
    if pid == 0:  # the child: must not block
        code = 1
        try:
            store.reopen()
            store._http()  # type: ignore[attr-defined]
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("reopen() in a forked child waited for the parent's lock")
    store._lock.release()  # type: ignore[attr-defined]
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_listening_socket_is_tcp_so_asyncio_sets_nodelay() -> None:
    """Accepted sockets inherit the listener's protocol; asyncio sets TCP_NODELAY only on
    those that say IPPROTO_TCP (with proto 0, every small answer waited 40 ms for an ACK)."""
    import socket

    from kaikyo.cli.commands.serve import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
