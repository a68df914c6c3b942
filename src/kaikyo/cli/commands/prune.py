"""kaikyo prune: delete unreferenced data, repacking partly used packs."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console
from kaikyo.cli.progress import Status
from kaikyo.cli.session import repository


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("prune", help="remove unreferenced data")
    p.add_argument("-n", "--dry-run", action="store_true")
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    dry = getattr(args, "dry_run", False)
    with (repository(args, ctx, "exclusive") as repo,
          Status(ctx, "finding data in use", not args.json) as status):
        # The engine, once the key is open.
        from kaikyo.snapshot.prune import execute_prune, plan_prune, used_blobs

        repo.adopt_unindexed()
        trees = [r.doc["tree"] for r in repo.list_snapshots()]
        used = used_blobs(repo, trees)
        plan = plan_prune(repo.index.by_pack(), used)
        status.update(f"repacking {len(plan.repack)} and deleting {len(plan.delete_packs)} packs")
        written = 0 if dry else execute_prune(repo, plan)
    summary = {"packs_deleted": len(plan.delete_packs), "packs_repacked": len(plan.repack),
               "packs_written": written, "bytes_freed": plan.bytes_freed,
               "blobs_unused": plan.blobs_unused, "dry_run": dry}
    if args.json:
        emit_json(ctx, summary)
    else:
        out_console(ctx).print(
            f"{'would free' if dry else 'freed'} {human_bytes(plan.bytes_freed)}: "
            f"{len(plan.delete_packs)} packs deleted, {len(plan.repack)} repacked")
    return 0
