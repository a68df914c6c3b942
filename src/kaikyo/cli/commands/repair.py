"""kaikyo repair: rebuild the index from the packs themselves."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console
from kaikyo.cli.session import repository


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("repair", help="rebuild a lost or damaged index")
    p.add_argument("what", nargs="?", default="index", choices=["index"])
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "exclusive", load_index=False) as repo:
        from kaikyo.snapshot.prune import rebuild_index  # the engine, once the key is open

        packs, problems = rebuild_index(repo)
    for p in problems:
        ctx.stderr.write(f"kaikyo: warning: {p} (left out)\n")
    if args.json:
        emit_json(ctx, {"packs_indexed": packs, "problems": problems})
    else:
        out_console(ctx).print(f"index rebuilt from {packs} packs")
    return 0
