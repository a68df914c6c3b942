"""The one grammar for sizes and durations on kaikyo's command line and in its environment.

Every flag that takes a size (quotas, ``--max-object``, the rates of ``--limit-upload`` and
``--limit-download``) or a duration (``--keep-within``, ``--expires``, ``--trash-grace``,
``--retry-limit``, the haven's timeouts ...) goes through this module, so ``7d`` or ``100M``
means the same thing wherever it is written. It sits below every layer that parses a setting
(the CLI, and the store's rate schedules) and knows nothing but text and numbers.

Sizes, as restic's: a number with an optional ``K``, ``M``, ``G`` or ``T`` (powers of 1024),
optionally followed by ``B``, ``i`` or ``iB``, any case; a plain number is bytes.

Durations: one or more NUMBER UNIT pairs, largest first or not (``1y2mo3d``, ``1h30min``),
with ``s``, ``min``, ``h``, ``d``, ``w`` (7 d), ``mo`` (30 d) and ``y`` (365 d). A bare ``m`` is
refused: restic's ``--keep-within`` reads it as months and Go's durations as minutes, and a
token issued with ``--expires 6m`` that expires after six minutes instead of six months (or
the other way round) is a mistake no one sees in time. A number without a unit is refused for
the same reason, except ``0``.
"""

from __future__ import annotations

import re

from kaikyo.errors import UsageError

_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])i?b?|b)?", re.IGNORECASE)
_SIZE_POWER = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
SIZE_HINT = "write e.g. 512K, 100M, 2GiB or 1.5T (powers of 1024; a plain number is bytes)"

DAY = 86400.0
DURATION_UNITS: dict[str, float] = {
    "s": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "d": DAY,
    "w": 7 * DAY,
    "mo": 30 * DAY,
    "y": 365 * DAY,
}
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)", re.IGNORECASE)
DURATION_HINT = "write e.g. 90s, 10min, 12h, 7d, 2w, 6mo, 1y or 1y2mo3d"


def parse_size(text: str, what: str = "size") -> int:
    """``512K``, ``100MB``, ``2GiB``, ``1.5t``, ``4096`` -> bytes (1024-based units).

    Raises :class:`UsageError` naming ``what`` (e.g. ``--max-object``) for anything else.
    """
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise UsageError(f"invalid {what} {text!r}", SIZE_HINT)
    unit = (match.group(2) or "").lower()
    return int(float(match.group(1)) * 1024 ** _SIZE_POWER[unit])


def is_plain_number(text: str) -> bool:
    """True for a number without any unit (``100``, ``2.5``), as a rate in KiB/s is written."""
    return re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", text.strip()) is not None


def parse_duration(text: str, what: str = "duration") -> float:
    """``90s``, ``10min``, ``1y2mo3d``, ``1.5h`` or ``0`` -> seconds.

    Raises :class:`UsageError` naming ``what`` (e.g. ``--keep-within``); a bare ``m`` gets a
    line of its own that says which two spellings are meant.
    """
    stripped = text.strip()
    if is_plain_number(stripped):
        if float(stripped) == 0:
            return 0.0
        raise UsageError(
            f"invalid {what} {text!r}: a number needs a unit",
            f"write e.g. {stripped}s, {stripped}min or {stripped}d",
        )
    total, pos = 0.0, 0
    while pos < len(stripped):
        match = _PART.match(stripped, pos)
        if not match or not match.group(2):
            raise UsageError(f"invalid {what} {text!r}", DURATION_HINT)
        number, unit = match.group(1), match.group(2).lower()
        if unit == "m":
            raise UsageError(
                f"ambiguous {what} {text!r}: 'm' could be minutes or months",
                f"write {number}min for minutes or {number}mo for months",
            )
        if unit not in DURATION_UNITS:
            raise UsageError(f"invalid {what} {text!r}: unknown unit {unit!r}", DURATION_HINT)
        total += float(number) * DURATION_UNITS[unit]
        pos = match.end()
    if not stripped:
        raise UsageError(f"invalid {what} {text!r}", DURATION_HINT)
    return total


def parse_rate_kib(text: str, what: str = "rate") -> float:
    """A transfer rate -> bytes per second; a plain number is KiB/s, as restic's
    ``--limit-upload`` and ``--limit-download``; a size with a unit (``10M``, ``512KiB/s``) is
    per second. ``0`` means unlimited (returned as 0.0)."""
    body = text.strip()
    if body.lower().endswith("/s"):
        body = body[:-2]
    if is_plain_number(body):
        return float(body) * 1024
    return float(parse_size(body, what))


__all__ = [
    "DAY",
    "DURATION_HINT",
    "DURATION_UNITS",
    "SIZE_HINT",
    "is_plain_number",
    "parse_duration",
    "parse_rate_kib",
    "parse_size",
]
