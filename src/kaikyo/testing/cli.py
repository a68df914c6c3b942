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


def kaikyo(
    *argv: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> CliRun:
    """Run one kaikyo command in-process with exactly ``env`` (nothing of ``os.environ``) and
    ``clock``; stdout and stderr are captured."""
    out, err = io.StringIO(), io.StringIO()
    ctx = CliContext(stdout=out, stderr=err, env=dict(env or {}), clock=clock)
    code = main([os.fspath(a) for a in argv], ctx)
    return CliRun(code, out.getvalue(), err.getvalue())
