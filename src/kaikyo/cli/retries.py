"""Retries said out loud: what is being retried, for how long, and when it is over.

A haven 35 ms away across a strait will sometimes be unreachable; the store retries for up
to ``--retry-limit`` (``KAIKYO_RETRY_LIMIT``, default 5 minutes). A command that just sat
there for five minutes would look hung, so the first retry of an outage prints one line at
once, and the end of it another. ``--json`` outputs carry the counts (``retries``).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TextIO

from kaikyo.store.errors import StoreUnavailable

_LOGS: weakref.WeakSet[RetryLog] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A backup worker is forked with the log (in the store's options): give each log a
    lock of its own, or one held by a parent's upload thread at the fork would never be
    released in the child."""
    for log in list(_LOGS):
        log._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


class RetryLog:
    """A :class:`kaikyo.store.retrying.RetryWatcher` that writes to stderr.

    Several calls (upload threads) may retry at once during one outage: the first one to
    start retrying announces the outage, the last one to finish announces its end.
    """

    def __init__(self, stderr: TextIO) -> None:
        self._stderr = stderr
        self._lock = threading.Lock()
        _LOGS.add(self)
        self._active = 0
        self.outages = 0
        self.retried_calls = 0
        self.failed_calls = 0
        self.last_error = ""

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._active = 0

    def retrying(self, exc: StoreUnavailable, pause: float, budget: float) -> None:
        with self._lock:
            self._active += 1
            self.retried_calls += 1
            self.last_error = exc.message
            first = self._active == 1
            if first:
                self.outages += 1
        if first:
            self._stderr.write(
                f"kaikyo: warning: {exc.message}; retrying for up to "
                f"{_duration(budget)} (set with --retry-limit or "
                "KAIKYO_RETRY_LIMIT)\n"
            )
            self._stderr.flush()

    def settled(self, attempts: int, seconds: float, ok: bool) -> None:
        with self._lock:
            self._active -= 1
            if not ok:
                self.failed_calls += 1
            last = self._active == 0
        if last and ok:
            self._stderr.write(
                f"kaikyo: reachable again after {seconds:.1f} s "
                f"({attempts} retr{'y' if attempts == 1 else 'ies'})\n"
            )
            self._stderr.flush()

    def summary(self) -> dict[str, object]:
        with self._lock:
            return {
                "outages": self.outages,
                "calls_retried": self.retried_calls,
                "calls_failed": self.failed_calls,
                "last_error": self.last_error,
            }
