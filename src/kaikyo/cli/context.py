"""What every command receives: its streams, clock, environment snapshot."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from kaikyo.cli.retries import RetryLog
from kaikyo.clock import SYSTEM_CLOCK, Clock


@dataclass
class CliContext:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    env: Mapping[str, str] = field(default_factory=dict)
    clock: Clock = SYSTEM_CLOCK
    stdin_is_tty: bool = False
    retries: RetryLog | None = None  # set by the first store opened (see cli.config)
    # Read only by what backs it up or reads a list from it (backup --stdin, --files-from -).
    stdin: BinaryIO = field(default_factory=lambda: sys.stdin.buffer)

    @property
    def interactive(self) -> bool:
        return self.stderr.isatty()
