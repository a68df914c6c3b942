"""A TCP forwarder that holds new connections while a service moves, then passes them on.

One asyncio loop: each accepted client is either piped to the current target at once, or,
while the endpoint holds, kept waiting (its connection accepted, its bytes unread) until the
endpoint is released or re-pointed, or until ``hold_timeout`` passes and it is closed. So
a client sees a slow connect, never a refused one, for as long as a cut-over lasts.
Connections already piped keep their target: a cut-over stops the old service anyway,
which closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass

from kaikyo.errors import UsageError

_CHUNK = 64 * 1024


def parse_address(text: str, what: str, any_port: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT``; port 0 (any free one) only with ``any_port``."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    lowest = 0 if any_port else 1
    if not sep or not host or not port.isdigit() or not lowest <= int(port) < 65536:
        raise UsageError(f"{what} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:5432")
    return host, int(port)


@dataclass
class Stats:
    """What the endpoint has done, for ``endpoint status`` and the cut-over report."""

    target: str
    holding: bool
    connections: int = 0  # accepted
    forwarded: int = 0  # piped to a target
    refused_by_target: int = 0  # the target did not accept: the client was closed
    held_now: int = 0
    held_total: int = 0
    hold_timeouts: int = 0
    longest_hold_s: float = 0.0
    holding_since: float | None = None  # monotonic seconds, while holding
    bytes_up: int = 0
    bytes_down: int = 0

    def doc(self) -> dict[str, object]:
        out = asdict(self)
        out.pop("holding_since")
        out["longest_hold_s"] = round(self.longest_hold_s, 3)
        return out


class Forwarder:
    """Forward ``listen`` to ``target``; :meth:`hold`, :meth:`release`, :meth:`point`."""

    def __init__(
        self,
        target: tuple[str, int],
        hold_timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.target = target
        self.hold_timeout_s = hold_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._open = asyncio.Event()
        self._open.set()
        self.stats = Stats(target=_show(target), holding=False)
        self._tasks: set[asyncio.Task[None]] = set()

    # Control -----------------------------------------------------------------------------

    def hold(self) -> None:
        """New connections wait from now on."""
        if self._open.is_set():
            self._open.clear()
            self.stats.holding = True
            self.stats.holding_since = time.monotonic()

    def release(self) -> None:
        """Held and new connections go to the target."""
        self._open.set()
        self.stats.holding = False
        self.stats.holding_since = None

    def point(self, target: tuple[str, int], release: bool = True) -> None:
        """New (and held) connections go to ``target``."""
        self.target = target
        self.stats.target = _show(target)
        if release:
            self.release()

    # Traffic -----------------------------------------------------------------------------

    async def serve(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._accepted, host, port, reuse_address=True)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._client(reader, writer)
        finally:
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        stats.connections += 1
        if not self._open.is_set():
            stats.held_now += 1
            stats.held_total += 1
            began = time.monotonic()
            try:
                await asyncio.wait_for(self._open.wait(), self.hold_timeout_s)
            except TimeoutError:
                stats.hold_timeouts += 1
                return
            finally:
                stats.held_now -= 1
                stats.longest_hold_s = max(stats.longest_hold_s, time.monotonic() - began)
        host, port = self.target
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.connect_timeout_s
            )
        except (OSError, TimeoutError):
            stats.refused_by_target += 1
            return
        stats.forwarded += 1
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, "bytes_up"),
                self._pipe(up_reader, writer, "bytes_down"),
            )
        finally:
            with contextlib.suppress(Exception):
                up_writer.close()

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, counter: str
    ) -> None:
        try:
            while data := await src.read(_CHUNK):
                dst.write(data)
                await dst.drain()
                setattr(self.stats, counter, getattr(self.stats, counter) + len(data))
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                if dst.can_write_eof():
                    dst.write_eof()

    async def close(self) -> None:
        """Cancel every connection (held or piped)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _show(target: tuple[str, int]) -> str:
    host, port = target
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
