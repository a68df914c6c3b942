"""Transfer rate limits that follow the time of day, e.g. ``09:00-20:00=10M,*=0``.

A schedule is a comma-separated list of ``HH:MM-HH:MM=RATE`` windows (a window may wrap past
midnight) and an optional ``*=RATE`` default; the first matching window wins; a bare RATE
applies all day. RATE is a plain number of KiB/s, as restic's ``--limit-upload`` and
``--limit-download``, or a size per second in kaikyo's grammar (``10M`` = 10 MiB/s, see
:mod:`kaikyo.units`); 0 means unlimited. Times are the client's local time, because business
hours are where the client's link is shared.

:class:`RateLimiter` is a token bucket shared by every upload thread of one store and by every
process forked from it (its state lives in shared memory), so the limit holds for the sum of
all transfers in flight, including those of the engine's forked backup workers.
"""

from __future__ import annotations

import multiprocessing
import re
import time as _time
from dataclasses import dataclass

from kaikyo.clock import Clock
from kaikyo.errors import UsageError
from kaikyo.units import parse_rate_kib

_WINDOW = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_HINT = "write e.g. '09:00-20:00=10M,*=0' (a plain number is KiB/s; 0 = unlimited)"


@dataclass(frozen=True, slots=True)
class Window:
    start_minute: int  # minutes after midnight, inclusive
    end_minute: int  # exclusive; may be <= start_minute for windows that wrap midnight
    rate: float  # bytes per second; 0 = unlimited

    def contains(self, minute: int) -> bool:
        if self.start_minute < self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute


@dataclass(frozen=True, slots=True)
class Schedule:
    windows: tuple[Window, ...]
    default_rate: float = 0.0

    def rate_at(self, epoch_seconds: float) -> float:
        """Bytes per second allowed at this instant (0 = unlimited), by local time."""
        local = _time.localtime(epoch_seconds)
        minute = local.tm_hour * 60 + local.tm_min
        for window in self.windows:
            if window.contains(minute):
                return window.rate
        return self.default_rate


def parse_rate(text: str) -> float:
    """A rate -> bytes per second: a plain number is KiB/s (restic's unit), a size with a
    unit is per second (``10M``, ``512KiB/s``; see :mod:`kaikyo.units`)."""
    try:
        return parse_rate_kib(text, "rate")
    except UsageError as exc:
        raise UsageError(exc.message, _HINT) from None


def _minute(hours: str, minutes: str, spec: str) -> int:
    h, m = int(hours), int(minutes)
    if h > 24 or m > 59 or (h == 24 and m):
        raise UsageError(f"invalid time in upload schedule {spec!r}", _HINT)
    return h * 60 + m


def parse_schedule(spec: str) -> Schedule:
    """Parse a schedule; a bare rate (``100M``) applies all day."""
    windows: list[Window] = []
    default = 0.0
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        when, sep, rate_text = part.rpartition("=")
        if not sep:
            default = parse_rate(part)
            continue
        rate = parse_rate(rate_text)
        if when.strip() == "*":
            default = rate
            continue
        match = _WINDOW.fullmatch(when.strip())
        if not match:
            raise UsageError(f"invalid window {when!r} in upload schedule", _HINT)
        start = _minute(match.group(1), match.group(2), spec)
        end = _minute(match.group(3), match.group(4), spec) % (24 * 60)
        windows.append(Window(start, end, rate))
    return Schedule(tuple(windows), default)


class RateLimiter:
    """A token bucket whose rate follows a :class:`Schedule`; thread- and fork-safe.

    The bucket holds at most a quarter second of tokens, so a burst after an idle period stays
    small while a steady stream sees exactly the configured rate.
    """

    BURST_SECONDS = 0.25

    def __init__(self, schedule: Schedule, clock: Clock) -> None:
        self._schedule = schedule
        self._clock = clock
        ctx = multiprocessing.get_context("fork")
        self._lock = ctx.Lock()
        # [tokens, last refill (monotonic; the same clock in forked children)]
        self._state = ctx.RawArray("d", [0.0, clock.monotonic()])

    def acquire(self, nbytes: int) -> None:
        """Block until ``nbytes`` may be sent under the rate in force now."""
        while True:
            with self._lock:
                rate = self._schedule.rate_at(self._clock.now())
                if rate <= 0:
                    return
                now = self._clock.monotonic()
                burst = max(rate * self.BURST_SECONDS, float(nbytes))
                tokens = min(burst, self._state[0] + (now - self._state[1]) * rate)
                self._state[1] = now
                if tokens >= nbytes:
                    self._state[0] = tokens - nbytes
                    return
                self._state[0] = tokens
                wait = (nbytes - tokens) / rate
            self._clock.sleep(min(wait, 1.0))
