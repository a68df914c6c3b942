"""The audit chain's anchor: (sequence number, hash) of every committed row, outside the database.

A hash chain alone proves only that the rows agree with each other: deleting the newest rows,
all of them, or editing one and recomputing every hash after it leaves a chain that verifies.
So each row's position and hash are also appended, once its transaction has committed, to an
append-only file beside the database (``audit.anchor``; make it append-only for good with
``chattr +a``, or ship it elsewhere). :func:`kaikyo.server.audit.verify` checks that every
anchored row is still in the database with the same hash, so truncation, wipes and
recomputation are caught. The head that ``verify`` prints (``SEQ:HASH``) can be kept anywhere
else and given back with ``--expect``, for an operator who trusts neither file.

The anchor is written after the commit, so it may lag the database by the rows of a
transaction cut by a crash, never lead it.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"([0-9]{1,18}) ([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class Anchored:
    seq: int
    hash: str


class AuditAnchor:
    """Appends ``SEQ HASH`` lines to one file; safe for the server's threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, seq: int, digest: str) -> None:
        line = f"{seq} {digest}\n".encode("ascii")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> tuple[list[Anchored], list[int]]:
        """Every anchored row, and the numbers of lines that do not parse (tampering)."""
        rows: list[Anchored] = []
        bad: list[int] = []
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return [], []
        for number, line in enumerate(text.splitlines(), 1):
            match = _LINE.fullmatch(line)
            if match is None:
                bad.append(number)
                continue
            rows.append(Anchored(int(match.group(1)), match.group(2)))
        return rows, bad
