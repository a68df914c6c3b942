"""The scan that runs beside a backup (restic's scanner): it walks the same paths, leaving
out what the excludes match, and only counts files and bytes, so that progress can give a
total, a percentage and an estimate of the time left.

It is an estimate, not the backup's account: it reads no tag files (``--exclude-caches``,
``--exclude-if-present``), and a tree that changes while it runs changes under it. It stats
each entry once (``os.scandir`` gives the type for free), in a daemon thread that stops
when told or when the walk ends, and never follows a symlink.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable

from kaikyo.snapshot.filters import ExcludeMatcher


class Scanner(threading.Thread):
    """Counts ``files`` and ``bytes`` below ``paths``; ``finished`` once the walk is done."""

    def __init__(
        self,
        paths: Iterable[bytes],
        excludes: ExcludeMatcher,
        one_file_system: bool = False,
        max_file_size: int | None = None,
    ) -> None:
        super().__init__(name="kaikyo-scan", daemon=True)
        self.paths = list(paths)
        self.excludes = excludes
        self.one_file_system = one_file_system
        self.max_file_size = max_file_size
        self.files = 0
        self.bytes = 0
        self.finished = threading.Event()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            for path in self.paths:
                self._walk(path)
        finally:
            self.finished.set()

    def _count(self, size: int) -> None:
        if self.max_file_size is None or size <= self.max_file_size:
            self.files += 1
            self.bytes += size

    def _walk(self, top: bytes) -> None:
        excluded = self.excludes.matches if self.excludes else None
        try:
            st = os.lstat(top)
        except OSError:
            return
        if not stat.S_ISDIR(st.st_mode):
            if stat.S_ISREG(st.st_mode):
                self._count(st.st_size)
            return
        device = st.st_dev
        stack = [top]
        while stack and not self._halt.is_set():
            here = stack.pop()
            try:
                entries = list(os.scandir(here))
            except OSError:
                continue
            for entry in entries:
                path = entry.path
                if excluded is not None and excluded(path):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if (
                            not self.one_file_system
                            or entry.stat(follow_symlinks=False).st_dev == device
                        ):
                            stack.append(path)
                    elif entry.is_file(follow_symlinks=False):
                        self._count(entry.stat(follow_symlinks=False).st_size)
                except OSError:
                    continue
