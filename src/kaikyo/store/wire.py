"""The haven's HTTP protocol, shared by the server (:mod:`kaikyo.server`) and the client
(:mod:`kaikyo.store.http`): paths, headers, and the one error <-> status table.

Paths, relative to the haven's base URL (``/{tenant}/{repo}`` is the repository URL):

- ``PUT    /{tenant}/{repo}/o/{name}``   create an object (body = its bytes, Content-Length
  required); ``X-Kaikyo-Overwrite: 1`` replaces an existing one (admin scope only)
- ``GET    /{tenant}/{repo}/o/{name}``   read it; ``Range: bytes=a-b`` gives 206 or 416
- ``HEAD   /{tenant}/{repo}/o/{name}``   stat it: Content-Length and ``X-Kaikyo-Mtime``
- ``DELETE /{tenant}/{repo}/o/{name}``   delete it (admin: moved to the tenant's trash)
- ``GET    /{tenant}/{repo}/list?prefix=P``  NDJSON, one ``{"name","size","mtime"}`` per line

Errors are JSON ``{"error": KIND, "message": TEXT}``; KIND names a class in this table, so the
client re-raises exactly what the server's store raised. Messages never carry server paths.
"""

from __future__ import annotations

import re

from kaikyo.store.errors import (
    InvalidName,
    InvalidRange,
    ObjectExists,
    ObjectGone,
    ObjectNotFound,
    StoreAuthFailed,
    StoreCorrupt,
    StoreError,
    StoreNoSpace,
    StorePermissionDenied,
    StoreQuotaExceeded,
    StoreUnavailable,
)

AUTHORIZATION = "authorization"
OVERWRITE_HEADER = "x-kaikyo-overwrite"
MTIME_HEADER = "x-kaikyo-mtime"
ERROR_CONTENT_TYPE = "application/json"
LIST_CONTENT_TYPE = "application/x-ndjson"

OBJECT_ROUTE = "/{tenant}/{repo}/o/{name:path}"
LIST_ROUTE = "/{tenant}/{repo}/list"

# Hard bound on one request body; packs are ~16 MiB, so this leaves room without letting one
# request fill a disk.
MAX_BODY_BYTES = 256 * 1024 * 1024
# A lock is a sealed JSON of about 200 bytes; the haven refuses bigger ones.
MAX_LOCK_BYTES = 4096

# What a successful answer is, per request: anything else (a redirect, a 200 where 201 is due)
# means the request did not do what the protocol says, and is an error.
SUCCESS = {
    "PUT": frozenset({201}),
    "GET": frozenset({200, 206}),
    "HEAD": frozenset({200}),
    "DELETE": frozenset({204}),
    "LIST": frozenset({200}),
}

# The one table: error class, HTTP status, wire name. Order matters for encoding (first
# isinstance match wins), so subclasses come before their bases.
ERROR_TABLE: list[tuple[type[StoreError], int]] = [
    (InvalidName, 400),
    (StoreAuthFailed, 401),
    (StorePermissionDenied, 403),
    (ObjectNotFound, 404),
    (ObjectExists, 409),
    (ObjectGone, 410),
    (InvalidRange, 416),
    (StoreCorrupt, 422),
    (StoreQuotaExceeded, 507),
    (StoreNoSpace, 507),
    (StoreUnavailable, 503),
]

_BY_NAME: dict[str, type[StoreError]] = {cls.__name__: cls for cls, _ in ERROR_TABLE}

# Statuses a client retries: the request may succeed later without any change on its side.
# 408: the haven gave up on a body that stopped arriving (a stalled link).
TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})


def status_for(exc: StoreError) -> int:
    """HTTP status the server answers for a store error (500 for unknown kinds)."""
    for cls, status in ERROR_TABLE:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: StoreError) -> dict[str, str]:
    kind = next((cls.__name__ for cls, _ in ERROR_TABLE if isinstance(exc, cls)), "StoreError")
    return {"error": kind, "message": exc.message}


def error_from_response(status: int, kind: str | None, message: str | None) -> StoreError:
    """The exception a client raises for an error answer from the haven."""
    text = message or f"the haven answered HTTP {status}"
    cls = _BY_NAME.get(kind or "")
    if cls is not None:
        return cls(text)
    if status in TRANSIENT_STATUSES:
        return StoreUnavailable(text)
    for candidate, code in ERROR_TABLE:
        if code == status:
            return candidate(text)
    if status == 413:
        return StorePermissionDenied(text, "the object is larger than the haven accepts")
    return StoreError(text)


_DIGITS = re.compile(r"[0-9]{1,19}")
_RANGE = re.compile(r"bytes=([0-9]{1,19})-([0-9]{1,19})?")


def parse_count(text: str | None) -> int | None:
    """A non-negative decimal of ASCII digits (a Content-Length), or None. ``str.isdigit``
    is not enough: it accepts "²" and other digits ``int`` refuses."""
    if text is None or not _DIGITS.fullmatch(text.strip()):
        return None
    return int(text.strip())


def parse_range(header: str, size: int) -> tuple[int, int]:
    """Parse ``bytes=a-b`` (inclusive, as RFC 9110) into ``(offset, end_exclusive)``.

    Raises :class:`InvalidRange` for anything else, including multi-ranges, suffix ranges,
    non-ASCII digits, numbers beyond 19 digits and ranges that run past the end: the store
    contract has no short reads.
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        raise InvalidRange(f"unsupported range {header[:64]!r}")
    start = int(match.group(1))
    end = int(match.group(2)) + 1 if match.group(2) is not None else size
    if start > end or end > size:
        raise InvalidRange(f"range {header[:64]!r} beyond the end of a {size}-byte object")
    return start, end


def format_range(offset: int, length: int | None) -> str:
    return f"bytes={offset}-" if length is None else f"bytes={offset}-{offset + length - 1}"
