"""kaikyo recover: save a snapshot of the trees no snapshot references (restic's recover)."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console
from kaikyo.cli.progress import Status
from kaikyo.cli.session import repository
from kaikyo.core.ids import short

DESCRIPTION = (
    "Find the directories whose trees are stored but referenced by no snapshot (a snapshot "
    "forgotten or lost before a prune) and save one new snapshot, path /recover and tag "
    "'recovered', that holds each such tree as a directory named by its short id, as "
    "restic's recover does. Restore or ls that snapshot to reach the data. Unlike restic it "
    "takes the exclusive lock, so the trees of a backup still running are not taken for "
    "lost; packs in no index (a killed backup) are indexed first."
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "recover",
        help="save a snapshot of data no snapshot references",
        description=DESCRIPTION,
        epilog="""examples:
  kaikyo recover
  kaikyo recover --json
  kaikyo snapshots --tag recovered""",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with (
        repository(args, ctx, "exclusive", write=True) as repo,
        Status(ctx, "reading trees", not args.json) as status,
    ):
        from kaikyo.snapshot.recover import run_recover  # the engine, once the key is open

        adopted = repo.adopt_unindexed()
        meta = {"hostname": config.hostname(), "username": config.username()}
        result = run_recover(
            repo, meta, ctx.clock.now(), lambda n: status.update(f"read {n} trees")
        )
    scan = result.scan
    for tree_id, why in sorted(scan.unreadable.items()):
        ctx.stderr.write(
            f"kaikyo: warning: tree {short(tree_id)} is unreadable ({why}); what lies below it "
            "is recovered in its place (see 'kaikyo check --read-data')\n"
        )
    if args.json:
        emit_json(
            ctx,
            {
                "snapshot_id": result.snapshot_id,
                "tree": result.tree,
                "trees": scan.trees,
                "roots": [r.hex() for r in scan.roots],
                "unreadable": sorted(t.hex() for t in scan.unreadable),
                "adopted_packs": adopted,
            },
        )
        return 0
    out = out_console(ctx)
    out.print(f"read {scan.trees} trees; {len(scan.roots)} no snapshot references")
    if result.snapshot_id is None:
        out.print("nothing to recover: every tree is in a snapshot; nothing was saved")
        return 0
    for root in scan.roots:
        out.print(f"  {short(root)}")
    out.print(
        f"snapshot {short(result.snapshot_id)} saved (/recover, tag recovered): "
        f"'kaikyo ls {short(result.snapshot_id)}' shows it"
    )
    return 0
