"""kaikyo unlock: remove stale locks (or all, with --remove-all)."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console
from kaikyo.cli.session import repository


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("unlock", help="remove stale locks")
    p.add_argument("--remove-all", action="store_true",
                   help="remove every lock, even live ones (only if you know they are dead)")
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read", load_index=False) as repo:
        from kaikyo.repo import remove_stale_locks  # the engine, once the key is open

        removed = remove_stale_locks(repo, ctx.clock, args.remove_all)
    if args.json:
        emit_json(ctx, {"removed": [r.describe() for r in removed]})
    else:
        out_console(ctx).print(f"removed {len(removed)} lock(s)")
    return 0
