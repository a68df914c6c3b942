"""Retries with exponential backoff and jitter, for transient store failures.

Only :class:`~kaikyo.store.errors.StoreUnavailable` is retried: it is what a store raises for a
refused connection, a cut link, a timeout or a 5xx answer. Every other error is permanent.
The policy gives up after ``max_elapsed`` seconds rather than a fixed count, so a link that is
down for a minute costs a pause, not a failed backup. Retrying is never silent: a
:class:`RetryWatcher` hears of the first retry of a call and of its end, so a command can say
at once what it is retrying and for how long.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from kaikyo.clock import Clock
from kaikyo.store.errors import StoreUnavailable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_delay: float = 0.2
    max_delay: float = 10.0
    multiplier: float = 2.0
    max_elapsed: float = 300.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Equal-jitter backoff: uniform in [cap/2, cap], cap = min(max, initial * mult**attempt).

        Jitter spreads the retries of many clients cut off at once; the lower bound keeps a
        retry from hammering a haven that is restarting.
        """
        cap = min(self.max_delay, self.initial_delay * self.multiplier**attempt)
        return rng.uniform(cap / 2, cap)


NO_RETRY = RetryPolicy(max_elapsed=0.0)


class RetryWatcher(Protocol):
    """Told when a call starts retrying and when it is over (thread-safe implementations)."""

    def retrying(self, exc: StoreUnavailable, pause: float, budget: float) -> None: ...

    def settled(self, attempts: int, seconds: float, ok: bool) -> None: ...


def call_with_retry(
    fn: Callable[[int], T],
    policy: RetryPolicy,
    clock: Clock,
    rng: random.Random | None = None,
    watcher: RetryWatcher | None = None,
) -> T:
    """Call ``fn(attempt)`` until it returns or raises a permanent error.

    ``attempt`` starts at 0, so ``fn`` can tell a first try from a retry (the HTTP store checks
    whether an earlier attempt's upload already arrived before sending the bytes again).
    Raises the last :class:`StoreUnavailable` once ``policy.max_elapsed`` has passed.
    ``watcher`` hears of the first retry (what failed, the pause, the budget) and of the end.
    """
    rng = rng or random.Random()
    start = clock.monotonic()
    attempt = 0
    try:
        while True:
            try:
                result = fn(attempt)
            except StoreUnavailable as exc:
                pause = policy.delay(attempt, rng)
                if clock.monotonic() - start + pause > policy.max_elapsed:
                    raise
                if attempt == 0 and watcher is not None:
                    watcher.retrying(exc, pause, policy.max_elapsed)
            else:
                if attempt and watcher is not None:
                    watcher.settled(attempt, clock.monotonic() - start, True)
                return result
            clock.sleep(pause)
            attempt += 1
    except BaseException:
        if attempt and watcher is not None:
            watcher.settled(attempt, clock.monotonic() - start, False)
        raise
