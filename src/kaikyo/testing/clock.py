"""A :class:`~kaikyo.clock.Clock` that tests drive: wall time is whatever the test says.

Give it to a command through ``CliContext(clock=...)`` to play a client whose clock is wrong
(or hostile): every time the engine writes (snapshot ``time``, lock times, key creation) comes
from here, while a haven still stamps what it receives by its own clock.

``sleep`` does not wait: it advances both readings, so retry and rate-limit loops run at full
speed and stay consistent (elapsed monotonic time equals the sleeps asked for).
"""

from __future__ import annotations

import threading


class FakeClock:
    """Implements :class:`kaikyo.clock.Clock`; thread-safe."""

    def __init__(self, now: float, monotonic: float = 1000.0) -> None:
        self._now, self._mono = float(now), float(monotonic)
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self.slept += seconds
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move both readings forward (never back: monotonic time may not decrease)."""
        if seconds < 0:
            raise ValueError("a clock does not go back; use set() for the wall time")
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def set(self, now: float) -> None:
        """Jump the wall time anywhere, as a misconfigured machine may; monotonic stays."""
        with self._lock:
            self._now = float(now)


__all__ = ["FakeClock"]
