"""kaikyo prune: delete unreferenced data, repacking partly used packs."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console
from kaikyo.cli.progress import MeterView
from kaikyo.cli.session import repository
from kaikyo.core.ids import short


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "prune",
        help="remove unreferenced data",
        description="Delete data no snapshot references and repack packs that are partly "
        "used. Only packs that are stored count: a referenced blob keeps a stored copy, and "
        "nothing is deleted unless every referenced blob stored now is stored after. Packs "
        "in no index whose header does not authenticate (garbage) are deleted.",
        epilog="""examples:
  kaikyo prune --dry-run
  kaikyo prune --json
  kaikyo forget --keep-daily 7 --prune""",
    )
    p.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="show what would be deleted and repacked, change nothing",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    dry = getattr(args, "dry_run", False)
    with (
        repository(args, ctx, "exclusive", write=not dry) as repo,
    ):
        # The engine, once the key is open.
        from kaikyo.snapshot.progress import Meter
        from kaikyo.snapshot.prune import run_prune

        meter = Meter()
        with MeterView(ctx, meter, args.json):
            result = run_prune(repo, dry, meter)
    plan = result.plan
    for sid, problem in sorted(result.damaged.items()):
        ctx.stderr.write(
            f"kaikyo: warning: snapshot {short(sid)} is damaged: {problem}; what "
            f"of it is stored was kept (see 'kaikyo check'; 'kaikyo forget "
            f"{short(sid)}' removes it)\n"
        )
    summary = {
        "packs_deleted": len(plan.delete_packs),
        "packs_repacked": len(plan.repack),
        "packs_written": result.written,
        "bytes_freed": plan.bytes_freed,
        "blobs_unused": plan.blobs_unused,
        "garbage_packs_deleted": len(plan.garbage_packs),
        "damaged_snapshots": sorted(result.damaged),
        "dry_run": dry,
    }
    if args.json:
        emit_json(ctx, {"message_type": "summary", **summary})
    else:
        garbage = (
            f", {len(plan.garbage_packs)} unreadable packs removed" if plan.garbage_packs else ""
        )
        out_console(ctx).print(
            f"{'would free' if dry else 'freed'} {human_bytes(plan.bytes_freed)}: "
            f"{len(plan.delete_packs)} packs deleted, {len(plan.repack)} repacked{garbage}"
        )
    return 0
