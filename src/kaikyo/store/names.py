"""The object-name grammar shared by every store, the client and the haven.

A name is 1 to 4 '/'-separated segments; each segment is 1-100 characters of ``[a-z0-9._-]``,
never ``.`` or ``..`` and never starting with '.'. Names are checked on the way in and on the way
out, so a name from a request or a listing can never address anything outside a store's root.
"""

from __future__ import annotations

import re

from kaikyo.store.errors import InvalidName

MAX_NAME_LENGTH = 255
MAX_SEGMENTS = 4
_SEGMENT = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,99}")


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
