"""What a backup counts and reports as it goes: the summary's counts, the errors, progress."""

from __future__ import annotations

import os
from typing import Literal, Protocol

# restic's words for a file in a backup's verbose output: not in the files cache (or no
# cache), in it but changed since, or vouched for by it.
FileStatus = Literal["new", "modified", "unchanged"]


class BackupProgress(Protocol):
    def file_done(self, path: bytes, size: int, status: FileStatus) -> None: ...

    def bytes_read(self, n: int) -> None:
        """``n`` more bytes of a file still being read (standard input or a command's
        output): counted until its ``file_done``, which counts the whole file."""

    def error(self, path: bytes, message: str) -> None: ...


class NullProgress:
    def file_done(self, path: bytes, size: int, status: FileStatus) -> None:
        pass

    def bytes_read(self, n: int) -> None:
        pass

    def error(self, path: bytes, message: str) -> None:
        pass


class Tally:
    """The counts of the snapshot's summary, the errors (path and message), the warnings
    (the same, for what does not make the snapshot incomplete), and the progress display
    they are reported to."""

    def __init__(self, progress: BackupProgress) -> None:
        self.progress = progress
        self.errors: list[dict[str, str]] = []
        self.warnings: list[dict[str, str]] = []
        self.counts = {
            "files_new": 0,
            "files_changed": 0,
            "files_unmodified": 0,
            "dirs": 0,
            "other": 0,
            "bytes_total": 0,
            "bytes_read": 0,
        }

    def error(self, path: bytes, message: str) -> None:
        self.errors.append({"path": os.fsdecode(path), "error": message})
        self.progress.error(path, message)

    def warn(self, path: bytes, message: str) -> None:
        """Reported only (never stored): the path as ``ls --json`` shows one, \\xNN escapes
        where it is not UTF-8, so a --json line stays valid UTF-8."""
        self.warnings.append({"path": path.decode("utf-8", "backslashreplace"), "warning": message})
