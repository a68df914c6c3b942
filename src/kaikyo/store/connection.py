"""The HTTP store's connection to a haven: one pooled client per process, and one request.

One :class:`httpx.Client` serves every thread, so many transfers can be in flight on one long
fat pipe. It is bound to the process that made it: ``reopen()`` (or the first call in a forked
child) builds a fresh pool instead of sharing the parent's sockets.

:meth:`HavenConnection._send` runs one request and gives back only an answer the protocol
defines as success; a transport failure is :class:`StoreUnavailable` (transient) unless it is
a trust failure or a malformed answer, which are permanent. Retrying and what the requests
mean are :class:`~kaikyo.store.http.HttpStore`'s, the one subclass.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable

import httpx

from kaikyo.store import wire
from kaikyo.store.answers import check_answer, malformed
from kaikyo.store.errors import InvalidName, StoreUnavailable
from kaikyo.store.names import validate_name
from kaikyo.store.options import StoreOptions
from kaikyo.store.tls import tls_context, tls_failure


class HavenConnection:
    """A haven repository's URL, token and connection pool; thread-safe, fork-safe."""

    def __init__(
        self, url: str, options: StoreOptions, transport: httpx.BaseTransport | None
    ) -> None:
        parsed = httpx.URL(url)
        segments = [s for s in parsed.path.split("/") if s]
        if parsed.scheme not in ("http", "https") or len(segments) != 2 or not parsed.host:
            raise InvalidName(
                f"invalid haven repository URL {url!r}",
                "write it as https://HOST:PORT/TENANT/REPO",
            )
        self.url = url
        self._base = str(parsed.copy_with(path="/" + "/".join(segments), query=None))
        self._options = options
        self._transport = transport
        self._lock = threading.Lock()
        self._pid = -1
        self._client: httpx.Client | None = None
        self._host = parsed.host
        self._tls = parsed.scheme == "https"

    def _make_client(self) -> httpx.Client:
        headers = {"user-agent": "kaikyo"}
        if self._options.token:
            headers[wire.AUTHORIZATION] = f"Bearer {self._options.token}"
        limits = httpx.Limits(
            max_connections=max(4, self._options.connections * 2),
            max_keepalive_connections=max(4, self._options.connections * 2),
        )
        # A fresh context per client (and so per process after a fork); with a CA file only
        # that CA is trusted, as an operator running a private haven expects.
        verify: ssl.SSLContext | bool = (
            tls_context(self._options.ca_file) if self._base.startswith("https:") else True
        )
        return httpx.Client(
            base_url=self._base,
            headers=headers,
            limits=limits,
            timeout=httpx.Timeout(self._options.timeout, connect=min(10.0, self._options.timeout)),
            verify=verify,
            transport=self._transport,
        )

    def _http(self) -> httpx.Client:
        pid = os.getpid()
        with self._lock:
            if self._client is None or self._pid != pid:
                # A child never closes its parent's client: that would shut sockets the parent
                # still uses. It just stops referring to it.
                self._client = self._make_client()
                self._pid = pid
            return self._client

    def reopen(self) -> None:
        # In a forked child: a fresh lock, not the parent's, which one of the parent's upload
        # threads may have held at the moment of the fork (it would never be released here).
        self._lock = threading.Lock()
        self._client = None

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None

    def _send(self, kind: str, request: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
        """Run one request of ``kind`` (PUT, GET, HEAD, DELETE, LIST); map transport failures
        to StoreUnavailable and error answers via wire. Only the statuses the protocol
        defines for ``kind`` succeed: a redirect or a stray 200 from a proxy that stored
        nothing must never count as "saved"."""
        try:
            response = request(self._http())
        except (httpx.TransportError, httpx.StreamError) as exc:
            permanent = tls_failure(exc, self._host) or malformed(exc, self._host)
            if permanent is not None:
                raise permanent from None
            raise StoreUnavailable(f"haven unreachable: {type(exc).__name__}: {exc}") from None
        check_answer(kind, response, self._host)
        return response

    @staticmethod
    def _object_path(name: str) -> str:
        return "/o/" + validate_name(name)
