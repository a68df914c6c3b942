"""Reading the RFC 3339 times of kaikyo's --json output back into numbers, for tests."""

from __future__ import annotations

from datetime import datetime


def unix(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (``...Z`` or with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def unix_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with up to nine fraction digits
    (file times keep all nine; ``datetime`` holds six)."""
    body = text.removesuffix("Z")
    whole, _, frac = body.partition(".")
    seconds = int(datetime.fromisoformat(whole + "+00:00").timestamp())
    return seconds * 1_000_000_000 + int((frac or "0").ljust(9, "0")[:9])
