"""kaikyo snapshots: list snapshots."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console, print_table, show_time
from kaikyo.cli.selection import (
    add_filter_args,
    describe_group,
    grouped,
    parse_group_by,
    select,
)
from kaikyo.cli.session import repository
from kaikyo.core.ids import short
from kaikyo.errors import UsageError

if TYPE_CHECKING:
    from datetime import tzinfo

    from kaikyo.repo import SnapshotRecord


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "snapshots",
        help="list snapshots",
        description="List the snapshots in the repository: id, time (in the local zone; "
        "--utc for UTC), host, tags, paths and size; --json gives every field of each "
        "snapshot, and, at a haven, when the haven received it.",
        epilog="""examples:
  kaikyo snapshots
  kaikyo snapshots --host web1 --tag nightly
  kaikyo snapshots --latest 1 --group-by host
  kaikyo snapshots --json""",
    )
    add_filter_args(p, paths=True)
    p.add_argument(
        "--latest",
        type=int,
        metavar="N",
        help="only the N most recent snapshots of each host and paths (of each group with "
        "--group-by), as restic",
    )
    p.add_argument(
        "--group-by",
        default="",
        metavar="FIELDS",
        help="list in groups of the same host, paths and/or tags (comma-separated); --json "
        "then gives restic's [{group_key, snapshots}]",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    fields = parse_group_by(args.group_by)
    if args.latest is not None and args.latest < 1:
        raise UsageError(f"--latest {args.latest}: give 1 or more", "e.g. --latest 1")
    with repository(args, ctx, "read", load_index=False) as repo:
        records = repo.list_snapshots()
    records = select(records, args)
    # --latest counts per group: per host and paths unless --group-by says otherwise (restic).
    latest_by = fields if args.group_by else ["host", "paths"]
    if args.latest is not None:
        keep = {r.snapshot_id for _, rs in grouped(records, latest_by) for r in rs[-args.latest :]}
        records = [r for r in records if r.snapshot_id in keep]
    groups = grouped(records, fields) if args.group_by else [({}, records)]
    if args.json:
        docs = [[_doc(r) for r in rs] for _, rs in groups]
        if args.group_by:
            pairs = zip(groups, docs, strict=True)
            emit_json(ctx, [{"group_key": k, "snapshots": d} for (k, _), d in pairs])
        else:
            emit_json(ctx, docs[0])
        return 0
    zone = config.time_zone(args, ctx)
    out = out_console(ctx)
    for key, rs in groups:
        if args.group_by:
            out.print(f"snapshots for {describe_group(key)}:")
        print_table(
            ctx, ["ID", "Time", "Host", "Tags", "Paths", "Size"], [_row(r, zone) for r in rs]
        )
    out.print(f"{len(records)} snapshot(s)")
    return 0


def _doc(r: SnapshotRecord) -> dict[str, Any]:
    return {"id": r.snapshot_id, "short_id": short(r.snapshot_id), **r.doc, "received": r.received}


def _row(r: SnapshotRecord, zone: tzinfo | None) -> list[str]:
    return [
        short(r.snapshot_id),
        show_time(r.time, zone),
        r.doc.get("hostname", ""),
        ",".join(r.doc.get("tags", [])),
        "\n".join(r.doc.get("paths", [])),
        human_bytes(r.doc.get("summary", {}).get("bytes_total", 0)),
    ]
