"""Run kaikyo commands for tests: in this process (:func:`kaikyo`, :func:`kaikyo_bytes`), or
as a process (:data:`KAIKYO`, the argv prefix of ``python -m kaikyo.cli.main``)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, NamedTuple

from kaikyo.cli.context import CliContext
from kaikyo.cli.main import main
from kaikyo.clock import SYSTEM_CLOCK, Clock

KAIKYO = [sys.executable, "-m", "kaikyo.cli.main"]


def last_doc(out: str | bytes) -> Any:
    """The last JSON document a command printed: of an NDJSON stream (status lines, then
    the summary), its summary."""
    text = out.decode() if isinstance(out, bytes) else out
    return json.loads(text.strip().splitlines()[-1])


class CliRun(NamedTuple):
    """What a command did; unpacks as ``code, out, err``."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """The command's JSON document; of a stream (NDJSON: status lines, then the
        summary), its last line."""
        try:
            return json.loads(self.out)
        except json.JSONDecodeError:
            return last_doc(self.out)

    def messages(self, message_type: str | None = None) -> list[Any]:
        """The lines of an NDJSON stream, of ``message_type`` if given."""
        docs = [json.loads(ln) for ln in self.out.splitlines() if ln.strip()]
        return [d for d in docs if message_type is None or d.get("message_type") == message_type]


class BytesRun(NamedTuple):
    """What a command that writes bytes (``dump``) did: ``code, data, err``."""

    code: int
    data: bytes
    err: str


class CapturedStdout(io.StringIO):
    """stdout as a command sees it: text, and under it ``buffer`` for bytes, as
    ``sys.stdout`` has."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = io.BytesIO()

    @property
    def buffer(self) -> io.BytesIO:
        return self._bytes


def _run(
    argv: tuple[str | os.PathLike[str], ...],
    env: Mapping[str, str] | None,
    clock: Clock,
    stdin: bytes,
) -> tuple[int, CapturedStdout, io.StringIO]:
    out, err = CapturedStdout(), io.StringIO()
    with _piped(stdin) as fh:
        ctx = CliContext(stdout=out, stderr=err, env=dict(env or {}), clock=clock, stdin=fh)
        code = main([os.fspath(a) for a in argv], ctx)
    return code, out, err


def kaikyo(
    *argv: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    stdin: bytes = b"",
) -> CliRun:
    """Run one kaikyo command in-process with exactly ``env`` (nothing of ``os.environ``),
    ``clock`` and ``stdin`` (through a pipe, as a shell would give it); stdout and stderr are
    captured."""
    code, out, err = _run(argv, env, clock, stdin)
    return CliRun(code, out.getvalue(), err.getvalue())


def kaikyo_bytes(
    *argv: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    stdin: bytes = b"",
) -> BytesRun:
    """As :func:`kaikyo`, for a command whose output is bytes: what it wrote to
    ``sys.stdout.buffer``."""
    code, out, err = _run(argv, env, clock, stdin)
    return BytesRun(code, out.buffer.getvalue(), err.getvalue())


@contextlib.contextmanager
def _piped(data: bytes) -> Iterator[BinaryIO]:
    """The read end of a pipe that a thread fills with ``data``, then closes. A command that
    stops reading early closes its end: the thread then stops (a broken pipe)."""
    r, w = os.pipe()

    def feed() -> None:
        with contextlib.suppress(OSError), open(w, "wb") as fh:
            fh.write(data)

    feeder = threading.Thread(target=feed, name="stdin-feeder", daemon=True)
    feeder.start()
    try:
        with open(r, "rb") as fh:
            yield fh
    finally:
        feeder.join()
