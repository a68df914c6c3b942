"""Named points where a test can kill the haven with SIGKILL, to prove each step crash-safe.

A crash between two steps of a trash move or a purge cannot be timed from outside, so the
steps name themselves here. ``kaikyo serve`` arms one point from ``KAIKYO_TEST_CRASH_AT``
(tests only); unarmed, :func:`reached` is one comparison.
"""

from __future__ import annotations

import os
import signal

ARMED: str | None = None


def reached(point: str) -> None:
    """SIGKILL this process if ``point`` is the armed one."""
    if point == ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
