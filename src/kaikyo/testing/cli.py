"""Run kaikyo commands for tests: in this process (:func:`kaikyo`), or as a process
(:data:`KAIKYO`, the argv prefix of ``python -m kaikyo.cli.main``)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

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
    argv: tuple[str | os.PathLike[str], ...], env: Mapping[str, str] | None, clock: Clock
) -> tuple[int, CapturedStdout, io.StringIO]:
    out, err = CapturedStdout(), io.StringIO()
    ctx = CliContext(stdout=out, stderr=err, env=dict(env or {}), clock=clock)
    return main([os.fspath(a) for a in argv], ctx), out, err


def kaikyo(
    *argv: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> CliRun:
    """Run one kaikyo command in-process with exactly ``env`` (nothing of ``os.environ``) and
    ``clock``; stdout and stderr are captured."""
    code, out, err = _run(argv, env, clock)
    return CliRun(code, out.getvalue(), err.getvalue())


def kaikyo_bytes(
    *argv: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> BytesRun:
    """As :func:`kaikyo`, for a command whose output is bytes: what it wrote to
    ``sys.stdout.buffer``."""
    code, out, err = _run(argv, env, clock)
    return BytesRun(code, out.buffer.getvalue(), err.getvalue())
