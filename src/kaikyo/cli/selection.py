"""Which snapshots a command acts on when it is given no ids: the ``--host``, ``--tag`` and
``--path`` filters, one meaning for every command that takes them (``snapshots``, ``tag``,
``mount``, ``copy``, ``rewrite``, ``forget``)"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

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


GROUP_FIELDS = ("host", "paths", "tags")


def parse_group_by(text: str) -> list[str]:
    """``--group-by host,paths,tags`` (any of them, '' for one group), as restic's."""
    from kaikyo.errors import UsageError

    fields = [f.strip() for f in text.split(",") if f.strip()]
    for f in fields:
        if f not in GROUP_FIELDS:
            raise UsageError(
                f"--group-by {text!r}: {f!r} is not a field",
                "group by host, paths and/or tags, comma-separated ('' for one group)",
            )
    return fields


def _strings(value: object) -> list[str]:
    return sorted(str(v) for v in value) if isinstance(value, list) else []


def group_key(doc: dict[str, Any], fields: list[str]) -> dict[str, object]:
    """What a snapshot's group is known by (restic's ``group_key``)."""
    key: dict[str, object] = {}
    if "host" in fields:
        key["hostname"] = str(doc.get("hostname", ""))
    if "paths" in fields:
        key["paths"] = _strings(doc.get("paths"))
    if "tags" in fields:
        key["tags"] = _strings(doc.get("tags"))
    return key


def grouped(
    records: list[SnapshotRecord], fields: list[str]
) -> list[tuple[dict[str, object], list[SnapshotRecord]]]:
    """The records in groups, each group's in time order, the groups in order of their
    first snapshot."""
    groups: dict[str, tuple[dict[str, object], list[SnapshotRecord]]] = {}
    for r in sorted(records, key=lambda r: r.time):
        key = group_key(r.doc, fields)
        groups.setdefault(repr(key), (key, []))[1].append(r)
    return list(groups.values())


def describe_group(key: dict[str, object]) -> str:
    """A group's heading for people: ``host web1, paths /etc /srv, tags nightly``."""
    parts = []
    if "hostname" in key:
        parts.append(f"host {key['hostname'] or '-'}")
    for name in ("paths", "tags"):
        if name in key:
            values = key[name]
            assert isinstance(values, list)
            parts.append(f"{name} {' '.join(values) or '-'}")
    return ", ".join(parts) or "all snapshots"
