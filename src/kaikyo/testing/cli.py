"""Run kaikyo commands for tests: in this process (:func:`kaikyo`), or as a process
(:data:`KAIKYO`, the argv prefix of ``python -m kaikyo.cli.main``)."""

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


class CliRun(NamedTuple):
    """What a command did; unpacks as ``code, out, err``."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def kaikyo(
    *argv: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    stdin: bytes = b"",
) -> CliRun:
    """Run one kaikyo command in-process with exactly ``env`` (nothing of ``os.environ``),
    ``clock`` and ``stdin`` (through a pipe, as a shell would give it); stdout and stderr are
    captured."""
    out, err = io.StringIO(), io.StringIO()
    with _piped(stdin) as fh:
        ctx = CliContext(stdout=out, stderr=err, env=dict(env or {}), clock=clock, stdin=fh)
        code = main([os.fspath(a) for a in argv], ctx)
    return CliRun(code, out.getvalue(), err.getvalue())


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
