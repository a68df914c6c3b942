"""The HTTP store's reading of the haven's answers: it believes only the protocol.

An answer outside :mod:`kaikyo.store.wire` (a redirect, a stray 200 from a proxy that stored
nothing, a malformed header or listing line) is a :class:`StoreProtocolError`, permanent and
named, never a crash and never taken for success. Error answers become the store error the
haven's own store raised (through wire's one table).
"""

from __future__ import annotations

import json
import math
from typing import Literal

import httpx

from kaikyo.store import wire
from kaikyo.store.base import ObjectInfo
from kaikyo.store.errors import InvalidName, StoreError, StoreProtocolError
from kaikyo.store.names import validate_name


def check_answer(kind: str, response: httpx.Response, host: str) -> None:
    """Raise unless ``response`` is a success the protocol defines for ``kind`` (PUT, GET,
    HEAD, DELETE, LIST): an error answer as its store error, anything else as a protocol
    error, since a request answered outside the protocol did not do what it says."""
    if response.status_code >= 400:
        raise error_of(response)
    if response.status_code not in wire.SUCCESS[kind]:
        where = response.headers.get("location")
        raise StoreProtocolError(
            f"the haven at {host} answered HTTP {response.status_code} to {kind}"
            + (f" (redirect to {where[:200]})" if where else "")
            + ", which the protocol does not define: nothing was done"
        )


def error_of(response: httpx.Response) -> StoreError:
    """The store error an error answer carries (by its JSON body, else by its status)."""
    kind = message = None
    try:
        body = json.loads(response.read() or b"{}")
        if isinstance(body, dict):
            kind, message = body.get("error"), body.get("message")
    except (ValueError, httpx.HTTPError):
        pass
    return wire.error_from_response(response.status_code, kind, message)


# What httpcore says when a connection is cut (a retry may well succeed); any other protocol
# error is an answer that is not HTTP as the haven speaks it (a malformed header), permanent.
_CUT = ("disconnected", "peer closed", "incomplete", "connection reset", "broken pipe")


def malformed(exc: BaseException, host: str) -> StoreProtocolError | None:
    """The permanent protocol error behind an httpx failure, or None if it may be a cut link."""
    if not isinstance(exc, httpx.RemoteProtocolError):
        return None
    text = str(exc)
    if any(word in text.lower() for word in _CUT):
        return None
    return StoreProtocolError(f"the haven at {host} sent a malformed answer: {text}")


def parse_mtime(text: str | None) -> float | None | Literal[False]:
    """A receive time header: None when absent, False when malformed."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return False
    return value if math.isfinite(value) else False


def list_item(line: str, number: int, prefix: str) -> ObjectInfo:
    """One NDJSON listing line, checked: a malformed one is a protocol error, not a crash."""
    try:
        obj = json.loads(line)
        name, size, mtime = obj["name"], obj["size"], obj.get("mtime")
        if (
            not isinstance(name, str)
            or isinstance(size, bool)
            or not isinstance(size, int)
            or size < 0
            or (
                mtime is not None
                and (isinstance(mtime, bool) or not isinstance(mtime, int | float))
            )
        ):
            raise ValueError("fields of the wrong type")
        validate_name(name)
        if not name.startswith(prefix):
            raise ValueError(f"{name!r} is outside the prefix asked for")
    except (ValueError, KeyError, TypeError, InvalidName) as exc:
        raise StoreProtocolError(
            f"line {number} of the haven's listing is malformed: {exc}"
        ) from None
    return ObjectInfo(name, size, float(mtime) if mtime is not None else None)
