"""Include/exclude patterns over snapshot paths (shell globs, as restic and borg use)."""

from __future__ import annotations

import fnmatch
import os


class PathFilter:
    """A path is wanted if it matches no exclude and, when includes are given, it matches an
    include, lies below one, or (for directories) lies on the way to one."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self.include = [p.rstrip("/") for p in include]
        self.exclude = list(exclude)

    def wanted(self, path: bytes, is_dir: bool) -> bool:
        text = os.fsdecode(path)
        name = text.rsplit("/", 1)[-1]
        if self.exclude and self._excluded(text):
            return False
        if not self.include:
            return True
        for pat in self.include:
            if fnmatch.fnmatchcase(text, pat) or fnmatch.fnmatchcase(name, pat):
                return True
            if any(fnmatch.fnmatchcase(text[:i], pat) for i in range(len(text)) if text[i] == "/"):
                return True  # below an included directory
            if is_dir and pat.startswith(text + "/"):
                return True  # on the way to an included path
        return False

    def _excluded(self, text: str) -> bool:
        """The path or any directory above it matches an exclude (by full path or by name)."""
        parts = text.split("/")
        for i in range(1, len(parts)):
            prefix, name = "/".join(parts[: i + 1]), parts[i]
            if any(
                fnmatch.fnmatchcase(prefix, p) or fnmatch.fnmatchcase(name, p) for p in self.exclude
            ):
                return True
        return False
