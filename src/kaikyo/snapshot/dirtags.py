"""Directories a tag file excludes: restic's ``--exclude-if-present`` and ``--exclude-caches``.

A directory holding a file named ``FILE`` (``--exclude-if-present FILE``), or one whose
content starts with ``HEADER`` (``FILE:HEADER``), keeps the directory itself and that tag
file, and loses everything else in it. ``--exclude-caches`` is
``CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55`` (the Cache Directory Tagging
Specification, https://bford.info/cachedir/), exactly as restic spells it.

With several tag names, a directory tagged by two of them keeps neither (each one's rule
excludes the other's file), as in restic. A tag file whose header is wrong or cannot be read
excludes nothing and is reported as a warning, as restic does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kaikyo.errors import UsageError

CACHEDIR_TAG = "CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55"


@dataclass(frozen=True, slots=True)
class TagFile:
    """A tag file's name and the bytes its content must start with (empty: any content)."""

    name: bytes
    header: bytes = b""


def parse_tag_file(spec: str) -> TagFile:
    """``FILE`` or ``FILE:HEADER`` (the first ``:`` splits), as restic reads it."""
    name, colon, header = spec.partition(":")
    if not name:
        what = "no file name before ':'" if colon else "an empty file name"
        raise UsageError(
            f"--exclude-if-present {spec!r}: {what}", "give FILE or FILE:HEADER, e.g. .nobackup"
        )
    if "/" in name:
        raise UsageError(
            f"--exclude-if-present {spec!r}: a file name is needed, without '/'",
            "the file is looked for in each directory, e.g. .nobackup",
        )
    return TagFile(os.fsencode(name), os.fsencode(header))


class DirTags:
    """What remains of a directory's listing once tag files have spoken.

    ``warn(path, message)`` receives a tag file that is present but does not qualify.
    """

    def __init__(self, tags: Sequence[TagFile], warn: Callable[[bytes, str], None]) -> None:
        self.tags = tuple(tags)
        self._warn = warn

    def __bool__(self) -> bool:
        return bool(self.tags)

    def kept(self, directory: bytes, names: list[bytes]) -> list[bytes]:
        """``names`` (the directory's listing, in any order) less what a tag excludes."""
        present = [t for t in self.tags if t.name in names]
        tagging = {t.name for t in present if self._qualifies(directory, t)}
        if not tagging:
            return names
        if len(tagging) > 1:
            return []
        return [n for n in names if n in tagging]

    def _qualifies(self, directory: bytes, tag: TagFile) -> bool:
        if not tag.header:
            return True  # present is enough (restic looks with lstat)
        # Followed if a symlink (as restic opens it); O_NONBLOCK: a FIFO so named cannot hang
        # the walk (its read then fails and is reported).
        path = os.path.join(directory, tag.name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            self._warn(path, f"cannot read the exclusion tag file: {exc.strerror}")
            return False
        try:
            head = os.pread(fd, len(tag.header), 0)
        except OSError as exc:
            self._warn(path, f"cannot read the exclusion tag file: {exc.strerror}")
            return False
        finally:
            os.close(fd)
        if head != tag.header:
            self._warn(path, "the exclusion tag file does not start with its signature")
            return False
        return True
