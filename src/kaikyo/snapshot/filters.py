"""Include/exclude patterns over paths (shell globs, as restic and borg use).

:class:`ExcludeMatcher` is the one exclude rule, used by backup (over the paths it walks) and
by restore (over the paths in a snapshot): a pattern matches a path whole or its last name.
"""

from __future__ import annotations

import fnmatch
import os
import re


class ExcludeMatcher:
    """Shell-glob excludes, compiled once into one expression: ``matches(path, name)`` if
    any pattern matches the whole path or its last name (as :func:`fnmatch.fnmatchcase`)."""

    def __init__(self, patterns: tuple[str, ...] | list[str]) -> None:
        self.patterns = tuple(patterns)
        joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in self.patterns)
        self._match = re.compile(joined, re.DOTALL).match if self.patterns else None

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: bytes | str, name: bytes | str) -> bool:
        match = self._match
        if match is None:
            return False
        p = path if isinstance(path, str) else os.fsdecode(path)
        n = name if isinstance(name, str) else os.fsdecode(name)
        return match(p) is not None or match(n) is not None


class PathFilter:
    """A path is wanted if it matches no exclude and, when includes are given, it matches an
    include, lies below one, or (for directories) lies on the way to one."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self.include = [p.rstrip("/") for p in include]
        self.exclude = ExcludeMatcher(exclude)

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
        return any(
            self.exclude.matches("/".join(parts[: i + 1]), parts[i]) for i in range(1, len(parts))
        )
