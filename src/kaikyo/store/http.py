"""``http://`` and ``https://``: the client of a kaikyo haven (see :mod:`kaikyo.store.wire`).

The repository URL is ``https://HOST:PORT/TENANT/REPO``; the token (``StoreOptions.token``) is
sent as a bearer credential. One pooled :class:`httpx.Client` serves every thread, so many
transfers can be in flight on one long fat pipe.

Resumption after a cut link: objects are named by the hash of their bytes, so an object that
arrived is never sent again. A put that failed in transit is retried (backoff with jitter), and
a retry first asks the haven whether the earlier attempt's bytes arrived; only the objects that
were in flight at the cut are sent twice.

TLS: ``https://`` verifies the haven's certificate against the system's trust store, or only
against ``StoreOptions.ca_file`` when given (a haven with a private or self-signed CA). A
certificate that does not verify is a trust failure, not a transient one: it raises
:class:`StoreTrustFailed` (exit 18, like an unreachable haven) at once instead of retrying.

Fork safety: the client is bound to the process that made it. ``reopen()`` (or the first call
in a forked child) builds a fresh pool instead of sharing the parent's sockets.
"""

from __future__ import annotations

import json
import math
import os
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Literal, TypeVar

import httpx

from kaikyo import errors
from kaikyo.store import wire
from kaikyo.store.base import ObjectInfo
from kaikyo.store.errors import (
    InvalidName,
    ObjectNotFound,
    StoreCorrupt,
    StoreError,
    StoreProtocolError,
    StoreUnavailable,
    map_os_error,
)
from kaikyo.store.names import is_content_addressed, validate_name, validate_prefix
from kaikyo.store.options import StoreOptions
from kaikyo.store.ratelimit import RateLimiter, parse_schedule
from kaikyo.store.retrying import RetryPolicy, call_with_retry

T = TypeVar("T")

UPLOAD_CHUNK = 256 * 1024
FILE_BLOCK = 1024 * 1024


def _read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _parse_mtime(text: str | None) -> float | None | Literal[False]:
    """A receive time header: None when absent, False when malformed."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return False
    return value if math.isfinite(value) else False


def _list_item(line: str, number: int, prefix: str) -> ObjectInfo:
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


class StoreTrustFailed(StoreError, errors.ConnectionFailedError):
    """The haven's TLS certificate does not verify. Permanent (never retried): the same
    certificate will not become trusted by waiting."""

    default_hint = "give the haven's CA certificate with --ca-file or KAIKYO_CA_FILE"


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The context that verifies the haven: the system's trust store, or only ``ca_file``."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:  # before OSError, of which it is a subclass
        raise errors.ConfigError(
            f"CA file {ca_file} holds no usable PEM certificate: {exc.reason or exc}"
        ) from None
    except OSError as exc:
        raise errors.ConfigError(
            f"cannot read CA file {ca_file}: {exc.strerror or exc}",
            "KAIKYO_CA_FILE / --ca-file must name a PEM file",
        ) from None


def _tls_failure(exc: BaseException, host: str) -> StoreTrustFailed | None:
    """The permanent TLS failure behind an httpx transport error, if that is what it is
    (httpx and httpcore chain the ``ssl`` exception as the cause): a certificate that does not
    verify, or a peer that does not speak TLS at all. Anything else may be a cut link."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            reason = seen.verify_message or seen.reason or "verification failed"
            return StoreTrustFailed(f"TLS certificate of haven {host} not trusted: {reason}")
        if isinstance(seen, ssl.SSLError) and seen.reason == "WRONG_VERSION_NUMBER":
            return StoreTrustFailed(
                f"haven {host} does not speak TLS on this port",
                "use the http:// URL only for a loopback haven without "
                "--tls-cert, or check the port",
            )
        seen = seen.__cause__ or seen.__context__
    return None


# What httpcore says when a connection is cut (a retry may well succeed); any other protocol
# error is an answer that is not HTTP as the haven speaks it (a malformed header), permanent.
_CUT = ("disconnected", "peer closed", "incomplete", "connection reset", "broken pipe")


def _malformed(exc: BaseException, host: str) -> StoreProtocolError | None:
    if not isinstance(exc, httpx.RemoteProtocolError):
        return None
    text = str(exc)
    if any(word in text.lower() for word in _CUT):
        return None
    return StoreProtocolError(f"the haven at {host} sent a malformed answer: {text}")


class HttpStore:
    """A :class:`~kaikyo.store.base.Store` on a kaikyo haven; thread-safe, fork-safe."""

    def __init__(
        self,
        url: str,
        options: StoreOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
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
        self._lock = threading.Lock()
        self._pid = -1
        self._client: httpx.Client | None = None
        self._host = parsed.host
        if parsed.scheme == "https":
            tls_context(options.ca_file)  # a bad CA file fails now, with one clear line

    # -- connection management -------------------------------------------------------------

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

    # -- request plumbing ------------------------------------------------------------------

    def _send(self, kind: str, request: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
        """Run one request of ``kind`` (PUT, GET, HEAD, DELETE, LIST); map transport failures
        to StoreUnavailable and error answers via wire. Only the statuses the protocol
        defines for ``kind`` succeed: a redirect or a stray 200 from a proxy that stored
        nothing must never count as "saved"."""
        try:
            response = request(self._http())
        except (httpx.TransportError, httpx.StreamError) as exc:
            permanent = _tls_failure(exc, self._host) or _malformed(exc, self._host)
            if permanent is not None:
                raise permanent from None
            raise StoreUnavailable(f"haven unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise self._error(response)
        if response.status_code not in wire.SUCCESS[kind]:
            where = response.headers.get("location")
            raise StoreProtocolError(
                f"the haven at {self._host} answered HTTP {response.status_code} to {kind}"
                + (f" (redirect to {where[:200]})" if where else "")
                + ", which the protocol does not define: nothing was done"
            )
        return response

    @staticmethod
    def _error(response: httpx.Response) -> StoreError:
        kind = message = None
        try:
            body = json.loads(response.read() or b"{}")
            if isinstance(body, dict):
                kind, message = body.get("error"), body.get("message")
        except (ValueError, httpx.HTTPError):
            pass
        return wire.error_from_response(response.status_code, kind, message)

    def _retrying(self, fn: Callable[[int], T]) -> T:
        return call_with_retry(
            fn, self._retry, self._options.clock, watcher=self._options.retry_watcher
        )

    @staticmethod
    def _object_path(name: str) -> str:
        return "/o/" + validate_name(name)

    # -- the Store contract ----------------------------------------------------------------

    def _body(self, data: memoryview) -> Iterator[bytes]:
        for start in range(0, len(data), UPLOAD_CHUNK):
            chunk = data[start : start + UPLOAD_CHUNK]
            if self._limiter is not None:
                self._limiter.acquire(len(chunk))
            yield bytes(chunk)

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
            body = self._body(view) if self._limiter is not None else bytes(view)
            self._send("PUT", lambda c: c.put(path, content=body, headers=headers))

        self._retrying(attempt)

    def _file_body(self, path: str) -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while block := fh.read(FILE_BLOCK):
                if self._limiter is not None:
                    self._limiter.acquire(len(block))
                yield block

    def put_file(self, name: str, path: str) -> None:
        """Stream a local file (a spooled pack) in blocks: never the whole object in memory."""
        target = self._object_path(name)
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            raise map_os_error(exc, path) from None
        headers = {"content-length": str(size), "content-type": "application/octet-stream"}

        def attempt(n: int) -> None:
            if n and self._arrived(name, size, lambda: _read_file(path)):
                return
            self._send(
                "PUT", lambda c: c.put(target, content=self._file_body(path), headers=headers)
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
        mtime = _parse_mtime(response.headers.get(wire.MTIME_HEADER))
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
                items.append(_list_item(line, number, prefix))
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


__all__ = ["HttpStore"]
