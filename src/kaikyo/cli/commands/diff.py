"""kaikyo diff A B: what changed between two snapshots."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, show_path
from kaikyo.cli.session import repository


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="compare two snapshots",
        description="List what changed from snapshot A to snapshot B, path by path: added "
        "(+), removed (-), modified (M) or only its metadata changed (T), then the counts.",
        epilog="""examples:
  kaikyo diff 4f3c2a1b latest
  kaikyo diff 4f3c2a1b 9e8d7c6b --json""",
    )
    p.add_argument("a", metavar="A", help="the older snapshot (id, prefix or 'latest')")
    p.add_argument("b", metavar="B", help="the newer snapshot (id, prefix or 'latest')")
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read") as repo:
        from kaikyo.snapshot.diff import diff_trees  # the engine, once the key is open

        records = repo.list_snapshots()
        a = repo.find_snapshot(args.a, records)
        b = repo.find_snapshot(args.b, records)
        changes = list(diff_trees(repo, a.doc["tree"], b.doc["tree"]))
    if args.json:
        emit_json(ctx, [{"change": c, "path": show_path(p)} for c, p in changes])
    else:
        for c, p in changes:
            ctx.stdout.write(f"{c}  {show_path(p)}\n")
        counts = {k: sum(1 for c, _ in changes if c == k) for k in "+-MT"}
        ctx.stdout.write(
            f"added {counts['+']}, removed {counts['-']}, "
            f"modified {counts['M']}, metadata {counts['T']}\n"
        )
    return 0
