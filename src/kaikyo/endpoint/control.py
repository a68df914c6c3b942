"""The endpoint's control socket: one JSON line in, one JSON line out.

A Unix socket the endpoint creates with mode 0600, so only its own user (the agent that
drives the cut-over, or root) can hold or re-point it. Requests::

    {"cmd": "status"} | {"cmd": "hold"} | {"cmd": "release"} | {"cmd": "point", "to": "H:P"}

Every reply carries ``ok`` and the endpoint's stats; a bad request gets ``ok: false`` and
an ``error``, and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from kaikyo.endpoint.forwarder import Forwarder, parse_address
from kaikyo.errors import ConnectionFailedError, UsageError

_MAX_REQUEST = 4096


def handle(forwarder: Forwarder, line: bytes) -> dict[str, Any]:
    """The reply to one request line (pure: the tests drive it directly too)."""
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError):
        return {"ok": False, "error": "the request is not a JSON object"}
    cmd = request.get("cmd")
    if cmd == "hold":
        forwarder.hold()
    elif cmd == "release":
        forwarder.release()
    elif cmd == "point":
        to = request.get("to")
        if not isinstance(to, str):
            return {"ok": False, "error": "point needs 'to': HOST:PORT"}
        try:
            forwarder.point(parse_address(to, "to"), release=request.get("release", True) is True)
        except UsageError as exc:
            return {"ok": False, "error": str(exc)}
    elif cmd != "status":
        return {"ok": False, "error": f"unknown command {cmd!r}"}
    return {"ok": True, **forwarder.stats.doc()}


async def serve_control(forwarder: Forwarder, path: Path) -> asyncio.AbstractServer:
    """Listen on ``path`` (replacing a stale socket), mode 0600."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_socket():
            path.unlink()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            reply = (
                {"ok": False, "error": "request too long"}
                if len(line) > _MAX_REQUEST
                else handle(forwarder, line)
            )
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    old = os.umask(0o177)  # the socket is born 0600: no moment in which others could connect
    try:
        server = await asyncio.start_unix_server(client, str(path), limit=_MAX_REQUEST * 2)
    finally:
        os.umask(old)
    return server


def request(
    path: Path, cmd: str, fields: dict[str, object] | None = None, timeout_s: float = 5.0
) -> dict[str, Any]:
    """Send one request to the endpoint at ``path``; its reply (``ok`` true)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(json.dumps({"cmd": cmd, **(fields or {})}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except FileNotFoundError:
        raise ConnectionFailedError(
            f"no endpoint listens at {path}", hint="start one: kaikyo endpoint serve"
        ) from None
    except OSError as exc:
        raise ConnectionFailedError(f"endpoint at {path}: {exc.strerror or exc}") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise ConnectionFailedError(f"endpoint at {path}: no reply") from None
    if not reply.get("ok"):
        raise UsageError(f"endpoint: {reply.get('error', 'refused')}")
    return dict(reply)
