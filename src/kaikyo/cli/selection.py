"""Which snapshots a command acts on when it is given no ids: the ``--host`` and ``--tag``
filters, one meaning for every command that takes them (``snapshots``, ``tag``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kaikyo.repo import SnapshotRecord


def add_filter_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", metavar="HOST", help="only snapshots of this host")
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only snapshots with this tag (repeatable: any)",
    )


def select(records: list[SnapshotRecord], args: argparse.Namespace) -> list[SnapshotRecord]:
    """The records that pass the filters: of ``--host`` if given, with one of the ``--tag``
    values if any are given."""
    return [
        r
        for r in records
        if (not args.host or r.doc.get("hostname") == args.host)
        and (not args.tag or set(args.tag) & set(r.doc.get("tags", [])))
    ]
