"""kaikyo snapshots: list snapshots."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console, print_table, show_time
from kaikyo.cli.selection import add_filter_args, select
from kaikyo.cli.session import repository
from kaikyo.core.ids import short


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "snapshots",
        help="list snapshots",
        description="List the snapshots in the repository: id, time (UTC), host, tags, "
        "paths and size; --json gives every field of each snapshot, and, at a haven, when "
        "the haven received it.",
        epilog="""examples:
  kaikyo snapshots
  kaikyo snapshots --host web1 --tag nightly
  kaikyo snapshots --json""",
    )
    add_filter_args(p)
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read", load_index=False) as repo:
        records = repo.list_snapshots()
    records = select(records, args)
    if args.json:
        emit_json(
            ctx,
            [
                {
                    "id": r.snapshot_id,
                    "short_id": short(r.snapshot_id),
                    **r.doc,
                    "received": r.received,
                }
                for r in records
            ],
        )
        return 0
    zone = config.time_zone(args, ctx)
    rows = [
        [
            short(r.snapshot_id),
            show_time(r.time, zone),
            r.doc.get("hostname", ""),
            ",".join(r.doc.get("tags", [])),
            "\n".join(r.doc.get("paths", [])),
            human_bytes(r.doc.get("summary", {}).get("bytes_total", 0)),
        ]
        for r in records
    ]
    print_table(ctx, ["ID", "Time", "Host", "Tags", "Paths", "Size"], rows)
    out_console(ctx).print(f"{len(records)} snapshot(s)")
    return 0
