"""restore's path filters, with restic's names and meanings (restic 0.17's restore)."""

from __future__ import annotations

import argparse

_PATTERNS = (
    "'/...' from the restored root, anything else at any depth; * and ? stay within a name, "
    "** spans directories; !PATTERN takes back"
)


def add_filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-i",
        "--include",
        action="append",
        default=[],
        metavar="PATTERN",
        help="restore only what matches PATTERN, everything below a matching directory, and "
        f"the directories above a match; {_PATTERNS} (repeatable)",
    )
    p.add_argument(
        "--iinclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="as --include, ignoring the case of letters (repeatable)",
    )
    p.add_argument(
        "-e",
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out what matches PATTERN and everything below it; the same patterns as "
        "--include and backup's --exclude (repeatable)",
    )
    p.add_argument(
        "--iexclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="as --exclude, ignoring the case of letters (repeatable)",
    )
