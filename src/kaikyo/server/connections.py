"""Connection limits the haven needs and uvicorn lacks: a header timeout and a connection cap.

uvicorn closes a connection that idles *between* requests (``timeout_keep_alive``), but a
connection that is opened and then sends nothing, or half a request line, stays open for good:
an unauthenticated client can hold thousands. :func:`guarded_h11` makes uvicorn's h11 protocol
close a connection whose request headers are not complete ``header_timeout`` seconds after the
first byte (or after the connection opened), and refuse connections beyond ``max_connections``
at once. Bodies have their own idle timeout in the handler (``HavenSettings.body_timeout``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT = 15.0
DEFAULT_MAX_CONNECTIONS = 512


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that closes a connection whose request headers take longer than
    ``header_timeout`` and refuses connections beyond ``max_connections``."""

    header_timeout = DEFAULT_HEADER_TIMEOUT
    max_connections = DEFAULT_MAX_CONNECTIONS
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.transport.close()
            return
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm()  # a request has begun (or is awaited) but its headers are not in
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # idle until the next request: the keep-alive timeout's business
        super().on_response_complete()

    def connection_lost(self, exc: Any) -> None:
        self._disarm()
        super().connection_lost(exc)


def guarded_h11(
    header_timeout: float = DEFAULT_HEADER_TIMEOUT, max_connections: int = DEFAULT_MAX_CONNECTIONS
) -> type[H11Protocol]:
    """:class:`GuardedH11Protocol` with these limits (give the class as
    ``uvicorn.Config(http=...)``, which makes its instances itself)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )
