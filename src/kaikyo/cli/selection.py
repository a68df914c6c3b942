"""Which snapshots a command acts on when it is given no ids: the ``--host``, ``--tag`` and
``--path`` filters, one meaning for every command that takes them (``snapshots``, ``tag``,
``mount``, ``rewrite``)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kaikyo.repo import SnapshotRecord


def add_filter_args(parser: argparse.ArgumentParser, *, paths: bool = False) -> None:
    parser.add_argument("--host", metavar="HOST", help="only snapshots of this host")
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only snapshots with this tag (repeatable: any)",
    )
    if paths:
        parser.add_argument(
            "--path",
            dest="paths",
            metavar="PATH",
            action="append",
            default=[],
            help="only snapshots that backed up this path (repeatable: all of them, as restic)",
        )


def _has_paths(record: SnapshotRecord, wanted: list[str]) -> bool:
    have = {os.path.normpath(p) for p in record.doc.get("paths", [])}
    return all(os.path.normpath(p) in have for p in wanted)


def select(records: list[SnapshotRecord], args: argparse.Namespace) -> list[SnapshotRecord]:
    """The records that pass the filters: of ``--host`` if given, with one of the ``--tag``
    values if any are given, holding every ``--path`` given (for the commands that take it)."""
    paths: list[str] = getattr(args, "paths", None) or []
    return [
        r
        for r in records
        if (not args.host or r.doc.get("hostname") == args.host)
        and (not args.tag or set(args.tag) & set(r.doc.get("tags", [])))
        and (not paths or _has_paths(r, paths))
    ]
