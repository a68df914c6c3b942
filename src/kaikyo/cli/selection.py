"""Which snapshots a command acts on when it is given no ids: the ``--host``, ``--tag`` and
``--path`` filters, one meaning for every command that takes them (``snapshots``, ``tag``,
``rewrite``)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kaikyo.repo import SnapshotRecord


def add_filter_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="only snapshots of this host")
    parser.add_argument(
        "--tag", action="append", default=[], help="only snapshots with this tag (repeatable: any)"
    )
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        help="only snapshots that back up this path (repeatable: all of them, as restic)",
    )


def select(records: list[SnapshotRecord], args: argparse.Namespace) -> list[SnapshotRecord]:
    """The records that pass the filters: of ``--host`` if given, with one of the ``--tag``
    values if any are given, backing up every ``--path`` given (compared normalised)."""
    paths = {os.path.normpath(p) for p in getattr(args, "path", [])}
    return [
        r
        for r in records
        if (not args.host or r.doc.get("hostname") == args.host)
        and (not args.tag or set(args.tag) & set(r.doc.get("tags", [])))
        and paths <= {os.path.normpath(p) for p in r.doc.get("paths", [])}
    ]
