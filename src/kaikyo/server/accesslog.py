"""The haven's access log: one line per request, in plain text or as JSON lines.

A line says when, who (remote address, tenant and token id once a token was accepted, ``-``
before), what (method and path) and how it went (status, body bytes in and out, seconds).
It never holds a secret: tokens travel in the ``Authorization`` header, which is not logged;
the query string is left out; and a token pasted into a path has its secret replaced
(:func:`kaikyo.server.tokens.redact`). Paths are the client's words: in the text format,
quotes, backslashes and control characters are escaped, so a line cannot be forged or break
a terminal.

Text fields, space-separated (``-`` for none)::

    TIME REMOTE TENANT TOKEN_ID "METHOD PATH" STATUS BYTES_IN BYTES_OUT SECONDS
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TextIO

from kaikyo.errors import ConfigError
from kaikyo.server.tokens import redact

FORMATS = ("text", "json")
MAX_PATH = 1024  # longer paths are cut (and end in "..."): a log line stays a line
MAX_METHOD = 32


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One request, as the middleware saw it pass."""

    time: float  # the haven's clock, seconds since the epoch, when the request came in
    remote: str | None
    tenant: str | None
    token_id: str | None
    method: str
    path: str
    status: int
    bytes_in: int
    bytes_out: int
    seconds: float


def clean_path(path: str) -> str:
    """The path as logged: secrets of tokens replaced, cut at :data:`MAX_PATH`."""
    path = redact(path)
    return path if len(path) <= MAX_PATH else path[:MAX_PATH] + "..."


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def format_text(rec: AccessRecord) -> str:
    request = _escape(f"{rec.method[:MAX_METHOD]} {clean_path(rec.path)}")
    fields = [
        _timestamp(rec.time),
        rec.remote or "-",
        rec.tenant or "-",
        rec.token_id or "-",
        f'"{request}"',
        str(rec.status),
        str(rec.bytes_in),
        str(rec.bytes_out),
        f"{rec.seconds:.6f}",
    ]
    return " ".join(fields)


def format_json(rec: AccessRecord) -> str:
    entry = asdict(rec)
    entry["time"] = _timestamp(rec.time)
    entry["method"] = rec.method[:MAX_METHOD]
    entry["path"] = clean_path(rec.path)
    entry["seconds"] = round(rec.seconds, 6)
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


class AccessLog:
    """Writes one line per request to a text stream, flushed at once (the log is read while
    the haven runs: ``tail -f``, journald)."""

    def __init__(self, stream: TextIO, fmt: str = "text", *, owned: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"access log format {fmt!r}")
        self.stream, self.owned = stream, owned
        self._format = format_json if fmt == "json" else format_text

    def write(self, rec: AccessRecord) -> None:
        self.stream.write(self._format(rec) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.owned:
            self.stream.close()


def open_access_log(target: str, fmt: str) -> AccessLog:
    """``-`` is standard output; anything else a file, appended to (so ``logrotate`` with
    ``copytruncate`` works). An unwritable file is one line (exit 23) before the haven starts."""
    if target == "-":
        return AccessLog(sys.stdout, fmt)
    try:
        stream = open(target, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(
            f"cannot open the access log {target}: {exc.strerror or exc}",
            "give a writable file, or - for standard output",
        ) from None
    return AccessLog(stream, fmt, owned=True)
