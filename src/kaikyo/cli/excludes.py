"""The exclude flags backup and rewrite share (restic's names and meanings), and reading
their pattern files: one meaning for a pattern wherever it is written."""

from __future__ import annotations

import argparse
from pathlib import Path

from kaikyo.errors import ConfigError


def add_exclude_args(parser: argparse.ArgumentParser, verb: str) -> None:
    """``--exclude``, ``--iexclude``, ``--exclude-file``, ``--iexclude-file``; ``verb`` says
    what a match does ("exclude", "remove")."""
    parser.add_argument(
        "-e",
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help=f"{verb} what matches PATTERN, as restic: '/...' from the root, anything else at "
        "any depth; * and ? stay within a name, ** spans directories; !PATTERN takes back "
        "(repeatable)",
    )
    parser.add_argument(
        "--iexclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="as --exclude, ignoring the case of letters (repeatable)",
    )
    parser.add_argument(
        "--exclude-file",
        action="append",
        default=[],
        metavar="FILE",
        help="read exclude patterns from a file, one per line ('#' starts a comment)",
    )
    parser.add_argument(
        "--iexclude-file",
        action="append",
        default=[],
        metavar="FILE",
        help="as --exclude-file, ignoring the case of letters",
    )


def read_patterns(patterns: list[str], files: list[str]) -> tuple[str, ...]:
    """``patterns`` and those of ``files`` (one a line, '#' a comment, blank lines skipped)."""
    out = [p for p in patterns if p.strip()]
    for f in files:
        try:
            lines = Path(f).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read exclude file {f}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"exclude file {f} is not UTF-8 text") from None
        out += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return tuple(out)


def exclude_patterns(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(excludes, case-insensitive excludes) of the flags :func:`add_exclude_args` adds."""
    return (
        read_patterns(args.exclude, args.exclude_file),
        read_patterns(args.iexclude, args.iexclude_file),
    )
