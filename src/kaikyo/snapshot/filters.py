"""Include/exclude patterns over paths, with restic's meaning.

:class:`ExcludeMatcher` is the one exclude rule, used by backup (over the paths it walks) and
by restore (over the paths in a snapshot). As restic's: a pattern that starts with ``/``
matches from the root; any other matches at any depth (``etc/ssl`` excludes ``/srv/etc/ssl``,
``*.tmp`` any ``.tmp`` file); ``*`` and ``?`` never cross a ``/``, ``**`` crosses any number of
directories; a pattern starting with ``!`` takes back what the others exclude; an excluded
directory is excluded with everything in it. Matching is by ``wcmatch`` (glob semantics,
bytes paths, so names that are not UTF-8 match too).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable

from wcmatch import glob as wglob

_FLAGS = wglob.GLOBSTAR | wglob.DOTGLOB | wglob.NEGATE | wglob.FORCEUNIX


def _anchored(pattern: str) -> bytes:
    """restic's rule: a relative pattern matches at any depth."""
    negate = pattern.startswith("!")
    body = pattern[1:] if negate else pattern
    body = body.rstrip("/") or "/"
    if not body.startswith("/"):
        body = "**/" + body
    return os.fsencode(("!" if negate else "") + body)


class ExcludeMatcher:
    """restic's excludes (``patterns``) and case-insensitive excludes (``ignore_case``),
    compiled once: ``matches(path)`` for an absolute path."""

    def __init__(self, patterns: Iterable[str], ignore_case: Iterable[str] = ()) -> None:
        self.patterns = tuple(p for p in patterns if p.strip())
        self.ignore_case = tuple(p for p in ignore_case if p.strip())
        self._matchers = []
        if self.patterns:
            compiled = wglob.compile([_anchored(p) for p in self.patterns], flags=_FLAGS)
            self._matchers.append(compiled.match)
        if self.ignore_case:
            compiled = wglob.compile(
                [_anchored(p) for p in self.ignore_case], flags=_FLAGS | wglob.IGNORECASE
            )
            self._matchers.append(compiled.match)

    def __bool__(self) -> bool:
        return bool(self._matchers)

    def matches(self, path: bytes | str) -> bool:
        raw = path if isinstance(path, bytes) else os.fsencode(path)
        return any(match(raw) for match in self._matchers)


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
        return any(self.exclude.matches("/".join(parts[: i + 1])) for i in range(1, len(parts)))
