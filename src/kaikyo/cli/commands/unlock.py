"""kaikyo unlock: remove stale locks and locks that do not authenticate (all, with
--remove-all)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console
from kaikyo.cli.session import repository
from kaikyo.errors import PermissionDeniedError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "unlock",
        help="remove stale and unreadable locks",
        description="Remove locks whose process is gone or that were not refreshed for 30 "
        "minutes, and objects under locks/ that do not authenticate. A haven lets only the "
        "token that made a lock, or an admin token, remove it.",
        epilog="""examples:
  kaikyo unlock
  kaikyo unlock --remove-all --json""",
    )
    p.add_argument(
        "--remove-all",
        action="store_true",
        help="remove every lock, even live ones (only if you know they are dead)",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read", load_index=False, write=True) as repo:
        from kaikyo.repo import remove_stale_locks  # the engine, once the key is open

        result = remove_stale_locks(repo, ctx.clock, args.remove_all)
    for line in result.refused:
        ctx.stderr.write(f"kaikyo: warning: could not remove {line}\n")
    if args.json:
        emit_json(
            ctx,
            {
                "removed": [r.lock for r in result.removed],
                "details": [asdict(r) for r in result.removed],
                "refused": result.refused,
            },
        )
    else:
        out = out_console(ctx)
        for r in result.removed:
            out.print(f"removed {r.lock}: {r.reason}")
        out.print(f"removed {len(result.removed)} lock(s)")
    if result.refused:
        raise PermissionDeniedError(
            f"{len(result.refused)} lock(s) could not be removed",
            "a haven lets only the token that made a lock, or an admin token, remove it",
        )
    return 0
