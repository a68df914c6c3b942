"""``http://`` and ``https://``: the client of a kaikyo haven (see :mod:`kaikyo.store.wire`).

The repository URL is ``https://HOST:PORT/TENANT/REPO``; the token (``StoreOptions.token``) is
sent as a bearer credential. One pooled, fork-safe connection serves every thread (see
:mod:`kaikyo.store.connection`), so many transfers can be in flight on one long fat pipe.

Resumption after a cut link: objects are named by the hash of their bytes, so an object that
arrived is never sent again. A put that failed in transit is retried (backoff with jitter), and
a retry first asks the haven whether the earlier attempt's bytes arrived; only the objects that
were in flight at the cut are sent twice.

TLS: ``https://`` verifies the haven's certificate (see :mod:`kaikyo.store.tls`); one that does
not verify raises :class:`StoreTrustFailed` at once instead of being retried. Only what the
protocol defines counts as an answer (see :mod:`kaikyo.store.answers`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx

from kaikyo.store import wire
from kaikyo.store.answers import list_item, parse_mtime
from kaikyo.store.base import ObjectInfo
from kaikyo.store.bodies import file_body, memory_body, read_file
from kaikyo.store.connection import HavenConnection
from kaikyo.store.errors import (
    ObjectNotFound,
    StoreCorrupt,
    StoreProtocolError,
    map_os_error,
)
from kaikyo.store.names import is_content_addressed, validate_prefix
from kaikyo.store.options import StoreOptions
from kaikyo.store.ratelimit import RateLimiter, parse_schedule
from kaikyo.store.retrying import RetryPolicy, call_with_retry
from kaikyo.store.tls import StoreTrustFailed, tls_context

T = TypeVar("T")


class HttpStore(HavenConnection):
    """A :class:`~kaikyo.store.base.Store` on a kaikyo haven; thread-safe, fork-safe (the
    connection, its pool and its fork safety are :class:`HavenConnection`'s)."""

    def __init__(
        self,
        url: str,
        options: StoreOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(url, options, transport)
        self._retry = retry or (
            RetryPolicy(max_elapsed=options.retry_limit)
            if options.retry_limit is not None
            else RetryPolicy()
        )
        self._limiter = (
            RateLimiter(parse_schedule(options.upload_limit), options.clock)
            if options.upload_limit
            else None
        )
        if self._tls:
            tls_context(options.ca_file)  # a bad CA file fails now, with one clear line

    # -- retries ---------------------------------------------------------------------------

    def _retrying(self, fn: Callable[[int], T]) -> T:
        return call_with_retry(
            fn, self._retry, self._options.clock, watcher=self._options.retry_watcher
        )

    # -- the Store contract ----------------------------------------------------------------

    def _arrived(self, name: str, size: int, content: Callable[[], bytes]) -> bool:
        """Did an earlier, interrupted attempt of this put in fact store these bytes?
        ``content`` gives them, read only when the name does not already vouch for them."""
        try:
            info = self._stat_once(name)
        except ObjectNotFound:
            return False
        if info.size != size:
            return False
        # A content-addressed name was verified by the haven; anything else is compared.
        return is_content_addressed(name) or self._get_once(name, 0, None) == content()

    def put(self, name: str, data: bytes | memoryview, *, overwrite: bool = False) -> None:
        path = self._object_path(name)
        view = memoryview(data).cast("B")
        headers = {"content-length": str(len(view)), "content-type": "application/octet-stream"}
        if overwrite:
            headers[wire.OVERWRITE_HEADER] = "1"

        def attempt(n: int) -> None:
            if n and not overwrite and self._arrived(name, len(view), view.tobytes):
                return
            body = memory_body(view, self._limiter) if self._limiter is not None else bytes(view)
            self._send("PUT", lambda c: c.put(path, content=body, headers=headers))

        self._retrying(attempt)

    def put_file(self, name: str, path: str) -> None:
        """Stream a local file (a spooled pack) in blocks: never the whole object in memory."""
        target = self._object_path(name)
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            raise map_os_error(exc, path) from None
        headers = {"content-length": str(size), "content-type": "application/octet-stream"}

        def attempt(n: int) -> None:
            if n and self._arrived(name, size, lambda: read_file(path)):
                return
            self._send(
                "PUT",
                lambda c: c.put(target, content=file_body(path, self._limiter), headers=headers),
            )

        self._retrying(attempt)

    def spool_dir(self) -> str | None:
        return None

    def _get_once(self, name: str, offset: int, length: int | None) -> bytes:
        path = self._object_path(name)
        headers = {}
        if offset or length is not None:
            if length == 0:
                self._stat_once(name)  # an empty range is valid only inside the object
                return b""
            headers["range"] = wire.format_range(offset, length)
        data = self._send("GET", lambda c: c.get(path, headers=headers)).content
        if length is not None and len(data) != length:
            raise StoreCorrupt(f"short read of {name}: {len(data)} of {length} bytes")
        return data

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self._retrying(lambda _: self._get_once(name, offset, length))

    def _stat_once(self, name: str) -> ObjectInfo:
        response = self._send("HEAD", lambda c: c.head(self._object_path(name)))
        size = wire.parse_count(response.headers.get("content-length"))
        mtime = parse_mtime(response.headers.get(wire.MTIME_HEADER))
        if size is None or mtime is False:
            raise StoreProtocolError(
                f"the haven's answer to HEAD {name} has a malformed Content-Length or receive time"
            )
        return ObjectInfo(name, size, mtime)

    def stat(self, name: str) -> ObjectInfo:
        return self._retrying(lambda _: self._stat_once(name))

    def exists(self, name: str) -> bool:
        try:
            self.stat(name)
        except ObjectNotFound:
            return False
        return True

    def _list_once(self, prefix: str) -> list[ObjectInfo]:
        params = {"prefix": prefix}
        text = self._send("LIST", lambda c: c.get("/list", params=params)).text
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            if line:
                items.append(list_item(line, number, prefix))
        return items

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        yield from self._retrying(lambda _: self._list_once(prefix))

    def delete(self, name: str) -> None:
        path = self._object_path(name)

        def attempt(n: int) -> None:
            try:
                self._send("DELETE", lambda c: c.delete(path))
            except ObjectNotFound:
                if n == 0:
                    raise
                # An earlier attempt's delete arrived before the link failed.

        self._retrying(attempt)

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r})"


__all__ = ["HttpStore", "StoreTrustFailed", "tls_context"]
