"""kaikyo diff A B: what changed between two snapshots."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, show_path
from kaikyo.cli.session import repository


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("diff", help="compare two snapshots")
    p.add_argument("a")
    p.add_argument("b")
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
