"""The paths a backup is given in files, as restic reads them.

``--files-from``: one path or glob pattern a line (surrounding blanks trimmed; empty lines and
lines starting with ``#`` skipped; a pattern that matches nothing is warned about and skipped).
``--files-from-verbatim``: one path a line, exactly (only empty lines skipped).
``--files-from-raw``: paths each ending in a NUL byte, as ``find -print0`` writes them: any
bytes but NUL. ``-`` is standard input. Paths stay bytes throughout: a name need not be UTF-8.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable
from pathlib import Path

from kaikyo.cli.context import CliContext
from kaikyo.errors import ConfigError

_MAGIC = re.compile(rb"[*?[]")


def read_list(flag: str, name: str, ctx: CliContext) -> bytes:
    """The bytes of the list file ``name`` (``-``: standard input)."""
    if name == "-":
        return ctx.stdin.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {flag} file {name}: {exc.strerror}") from None


def _lines(data: bytes) -> list[bytes]:
    """Lines without their ending (``\\n`` or ``\\r\\n``)."""
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in data.split(b"\n")]


def patterns(data: bytes, warn: Callable[[bytes], None]) -> list[bytes]:
    """``--files-from``: the paths its lines name, glob patterns expanded (sorted, hidden
    names included, as Go's ``filepath.Glob``); ``warn`` gets each pattern matching nothing.
    A line without ``*``, ``?`` or ``[`` is a path, kept whether it exists or not (the backup
    reports a missing one as it does a missing argument)."""
    out: list[bytes] = []
    for line in _lines(data):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        if not _MAGIC.search(line):
            out.append(line)
            continue
        found = sorted(glob.glob(line, include_hidden=True))
        if not found:
            warn(line)
        out += found
    return out


def verbatim(data: bytes) -> list[bytes]:
    """``--files-from-verbatim``: every non-empty line, exactly."""
    return [ln for ln in _lines(data) if ln]


def raw(flag: str, name: str, data: bytes) -> list[bytes]:
    """``--files-from-raw``: NUL-terminated paths; an empty one, or a last one without its
    NUL (a list cut short?), makes the list malformed."""
    if not data:
        return []
    if not data.endswith(b"\0"):
        raise ConfigError(f"{flag} {name}: the last path does not end in a NUL byte")
    paths = data[:-1].split(b"\0")
    if b"" in paths:
        raise ConfigError(f"{flag} {name}: an empty path in the list")
    return paths


def listed_paths(
    args_files_from: list[str],
    args_verbatim: list[str],
    args_raw: list[str],
    ctx: CliContext,
) -> list[bytes]:
    """The paths of every list given: ``--files-from``'s, ``-verbatim``'s, then ``-raw``'s."""
    out: list[bytes] = []
    for name in args_files_from:

        def warn(pattern: bytes, name: str = name) -> None:
            ctx.stderr.write(
                f"kaikyo: warning: --files-from {name}: no file matches "
                f"{os.fsdecode(pattern)}, skipped\n"
            )

        out += patterns(read_list("--files-from", name, ctx), warn)
    for name in args_verbatim:
        out += verbatim(read_list("--files-from-verbatim", name, ctx))
    for name in args_raw:
        out += raw("--files-from-raw", name, read_list("--files-from-raw", name, ctx))
    return out
