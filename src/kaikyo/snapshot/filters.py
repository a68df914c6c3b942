"""Include/exclude patterns over paths, with restic's meaning.

:class:`ExcludeMatcher` is the one exclude rule, used by backup (over the paths it walks) and
by restore (over the paths in a snapshot). As restic's: a pattern that starts with ``/``
matches from the root; any other matches at any depth (``etc/ssl`` excludes ``/srv/etc/ssl``,
``*.tmp`` any ``.tmp`` file); ``*`` and ``?`` never cross a ``/``, ``**`` crosses any number of
directories; a pattern starting with ``!`` takes back what the others exclude; an excluded
directory is excluded with everything in it. Matching is by ``wcmatch`` (glob semantics,
bytes paths, so names that are not UTF-8 match too).

:class:`PathFilter` is restore's ``--include``/``--exclude`` (and ``--iinclude``/``--iexclude``)
over the same patterns, with restic's meaning: a pattern matches a path or a directory above
it, so an include takes everything below a directory it matches, an exclude drops it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from wcmatch import glob as wglob

_FLAGS = wglob.GLOBSTAR | wglob.DOTGLOB | wglob.NEGATE | wglob.FORCEUNIX


def _anchored(pattern: str) -> list[bytes]:
    """restic's rule: a relative pattern matches at any depth; and a trailing ``**`` may
    stand for no directory at all (restic's ``dir/**`` matches ``dir`` itself, wcmatch's
    only what is inside)."""
    negate = pattern.startswith("!")
    body = pattern[1:] if negate else pattern
    body = body.rstrip("/") or "/"
    if not body.startswith("/"):
        body = "**/" + body
    forms = [body]
    if body.endswith("/**") and len(body) > 3:
        forms.append(body[:-3] or "/")
    return [os.fsencode(("!" if negate else "") + form) for form in forms]


def _with_below(pattern: bytes) -> list[bytes]:
    """The pattern, and the same for whatever lies below what it matches."""
    return [pattern, pattern + (b"**" if pattern.endswith(b"/") else b"/**")]


class ExcludeMatcher:
    """restic's excludes (``patterns``) and case-insensitive excludes (``ignore_case``),
    compiled once: ``matches(path)`` for an absolute path. ``below``: also match whatever lies
    below a matching path (for a restore, which sees every path; a backup's walk never
    enters an excluded directory)."""

    def __init__(
        self, patterns: Iterable[str], ignore_case: Iterable[str] = (), *, below: bool = False
    ) -> None:
        self.patterns = tuple(p for p in patterns if p.strip())
        self.ignore_case = tuple(p for p in ignore_case if p.strip())
        self._matchers = []
        for given, flags in (
            (self.patterns, _FLAGS),
            (self.ignore_case, _FLAGS | wglob.IGNORECASE),
        ):
            if not given:
                continue
            compiled = [form for p in given for form in _anchored(p)]
            if below:
                compiled = [form for p in compiled for form in _with_below(p)]
            self._matchers.append(wglob.compile(compiled, flags=flags).match)

    def __bool__(self) -> bool:
        return bool(self._matchers)

    def matches(self, path: bytes | str) -> bool:
        raw = path if isinstance(path, bytes) else os.fsencode(path)
        return any(match(raw) for match in self._matchers)


class PathFilter:
    """restore's filters, as restic's: a path is wanted if neither it nor a directory above
    it matches an exclude and, when includes are given, it or a directory above it matches
    one. A directory on the way to a wanted path is not wanted itself: the restore's walk
    creates it once it finds something wanted inside (restic's "parents of a match")."""

    def __init__(
        self,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        iinclude: tuple[str, ...] = (),
        iexclude: tuple[str, ...] = (),
    ) -> None:
        self.include = ExcludeMatcher(include, iinclude, below=True)
        self.exclude = ExcludeMatcher(exclude, iexclude, below=True)

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def wanted(self, path: bytes, is_dir: bool = False) -> bool:
        """``path`` from the restored root, starting with ``/``. ``is_dir`` changes nothing
        (restic's rule does not depend on it); it is the restore walk's call."""
        if self.exclude and self.exclude.matches(path):
            return False
        return not self.include or self.include.matches(path)
