"""The object-name grammar shared by every store, the client and the haven.

A name is 1 to 4 '/'-separated segments; each segment is 1-100 characters of ``[a-z0-9._-]``,
never ``.`` or ``..`` and never starting with '.'. Names are checked on the way in and on the way
out, so a name from a request or a listing can never address anything outside a store's root.

Within that grammar, a *content-addressed* name ends in the SHA-256 (64 lowercase hex digits)
of the object's bytes: ``data/<2hex>/<H>`` (fanned out by the hash's first two digits),
``index/<H>``, ``snapshots/<H>``, ``keys/<H>``, ``locks/<H>``. A haven verifies such an object's
bytes as it arrives, so a client may trust one the haven accepted without reading it back; any
other name (``config``) says nothing about its bytes. This is the one place that grammar is
written; what the objects are is the repository's business, not the store's.
"""

from __future__ import annotations

import re

from kaikyo.store.errors import InvalidName

MAX_NAME_LENGTH = 255
MAX_SEGMENTS = 4
_SEGMENT = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,99}")
_CONTENT_NAME = re.compile(r"(?:data/([0-9a-f]{2})/|index/|snapshots/|keys/|locks/)([0-9a-f]{64})")
# Names a repository holds that are not content-addressed: a haven verifying names accepts
# these, and only these, without a hash to check.
UNVERIFIED_NAMES = frozenset({"config"})


def validate_name(name: str) -> str:
    """Return ``name`` unchanged if it is a valid object name, else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"invalid object name {name!r}")
    segments = name.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise InvalidName(f"invalid object name {name!r}: too many segments")
    for seg in segments:
        if not _SEGMENT.fullmatch(seg):
            raise InvalidName(f"invalid object name {name!r}")
    return name


def validate_prefix(prefix: str) -> str:
    """A listing prefix is empty or a valid name followed by an optional '/'."""
    if prefix == "":
        return prefix
    validate_name(prefix.rstrip("/"))
    return prefix


def is_content_addressed(name: str) -> bool:
    """Whether ``name`` has the form of a content-addressed name (the fan-out unchecked)."""
    return _CONTENT_NAME.fullmatch(name) is not None


def content_digest(name: str) -> str | None:
    """The SHA-256 (hex) the bytes of ``name`` must have, or None for a name that is not
    content-addressed. Raises :class:`InvalidName` for a ``data/`` name whose fan-out
    directory is not the first two digits of its hash."""
    match = _CONTENT_NAME.fullmatch(name)
    if match is None:
        return None
    if match.group(1) is not None and match.group(1) != match.group(2)[:2]:
        raise InvalidName(f"object name {name!r}: fan-out directory does not match the hash")
    return match.group(2)
