"""kaikyo find PATTERN: which snapshots hold files matching a pattern."""

from __future__ import annotations

import argparse
import fnmatch
import os
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, show_path
from kaikyo.cli.session import repository
from kaikyo.core.ids import short


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "find",
        help="find files in snapshots",
        description="Search every snapshot (or those given with --snapshot) for entries whose "
        "name or full path matches a shell pattern, and print each match with its snapshot.",
        epilog="""examples:
  kaikyo find '*.conf'
  kaikyo find '/etc/ssl/*' --snapshot latest
  kaikyo find 'report-2011-*.xlsx' --json""",
    )
    p.add_argument("pattern", help="shell pattern matched against names and full paths")
    p.add_argument(
        "--snapshot",
        action="append",
        default=[],
        metavar="ID",
        help="search only this snapshot (id, prefix or 'latest'; repeatable)",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    hits = []
    with repository(args, ctx, "read") as repo:
        from kaikyo.snapshot import trees  # the engine, once the key is open

        records = repo.list_snapshots()
        if args.snapshot:
            records = [repo.find_snapshot(s, records) for s in args.snapshot]
        for rec in records:
            for path, node in trees.walk(repo, rec.doc["tree"]):
                text = os.fsdecode(path)
                if fnmatch.fnmatchcase(
                    text.rsplit("/", 1)[-1], args.pattern
                ) or fnmatch.fnmatchcase(text, args.pattern):
                    hits.append(
                        {
                            "snapshot": short(rec.snapshot_id),
                            "path": show_path(path),
                            "type": node.type.value,
                            "size": node.size,
                            "mtime": node.mtime,
                        }
                    )
    if args.json:
        emit_json(ctx, hits)
    else:
        for h in hits:
            ctx.stdout.write(f"{h['snapshot']}  {h['path']}\n")
    return 0
