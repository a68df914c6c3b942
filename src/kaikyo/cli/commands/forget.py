"""kaikyo forget: remove snapshots by id or by retention policy (optionally prune after)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kaikyo.cli import config
from kaikyo.cli.commands import prune as prune_cmd
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console, print_table, show_time
from kaikyo.cli.selection import add_filter_args, group_key, parse_group_by, select
from kaikyo.cli.session import repository
from kaikyo.core.ids import short
from kaikyo.errors import UsageError
from kaikyo.snapshot.retention import Candidate, Policy, apply_policy
from kaikyo.units import parse_duration

if TYPE_CHECKING:
    from datetime import tzinfo

    from kaikyo.repo import SnapshotRecord


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "forget",
        help="remove snapshots",
        description="Remove the snapshots given by id, or those a retention policy does not "
        "keep, as restic's forget: the policy is applied to each group of snapshots (same "
        "host and paths by default), and a snapshot kept by any rule stays. Only snapshot "
        "objects are removed; 'kaikyo prune' (or --prune) deletes the data no snapshot "
        "needs any more. At a haven, snapshot times are the haven's receive times.",
        epilog="""examples:
  kaikyo forget 4f3c2a1b
  kaikyo forget --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --prune
  kaikyo forget --keep-within 1y2mo --keep-tag keep --dry-run
  kaikyo forget --keep-last 3 --group-by host --json""",
    )
    p.add_argument("snapshots", nargs="*", metavar="ID", help="snapshot ids to remove")
    for rule, what in (
        ("last", "the N most recent snapshots"),
        ("hourly", "the last snapshot of each of the N most recent hours that have one"),
        ("daily", "the last snapshot of each of the N most recent days that have one"),
        ("weekly", "the last snapshot of each of the N most recent weeks that have one"),
        ("monthly", "the last snapshot of each of the N most recent months that have one"),
        ("yearly", "the last snapshot of each of the N most recent years that have one"),
    ):
        p.add_argument(f"--keep-{rule}", type=int, default=0, metavar="N", help=f"keep {what}")
    p.add_argument(
        "--keep-within",
        default="",
        metavar="DURATION",
        help="keep every snapshot younger than DURATION, counted back from the newest one, "
        "e.g. 7d, 2w, 6mo, 1y2mo (a bare 'm' is refused: write min or mo)",
    )
    p.add_argument(
        "--keep-tag",
        action="append",
        default=[],
        metavar="TAG",
        help="keep every snapshot with this tag (repeatable)",
    )
    p.add_argument(
        "--group-by",
        default="host,paths",
        metavar="FIELDS",
        help="apply the policy per group of snapshots with the same host, paths and/or tags "
        "(comma-separated; '' = one group; default host,paths). --host, --tag and --path "
        "choose which snapshots the policy sees at all",
    )
    add_filter_args(p, paths=True)
    p.add_argument("--prune", action="store_true", help="prune right after")
    p.add_argument(
        "-n", "--dry-run", action="store_true", help="show what would be removed, remove nothing"
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    within = parse_duration(args.keep_within, "--keep-within") if args.keep_within else 0.0
    policy = Policy(
        args.keep_last,
        args.keep_hourly,
        args.keep_daily,
        args.keep_weekly,
        args.keep_monthly,
        args.keep_yearly,
        within,
        tuple(args.keep_tag),
    )
    if policy.empty() and not args.snapshots:
        raise UsageError("nothing to forget", "give snapshot ids or a --keep-* policy")
    with repository(args, ctx, "exclusive", load_index=False, write=True) as repo:
        records = repo.list_snapshots()
        # Retention judged by the store's receive time where it is a haven: a client with a
        # wrong or hostile clock cannot push real snapshots out of the policy.
        haven = repo.store.url.startswith(("http://", "https://"))
        if args.snapshots:
            remove = [repo.find_snapshot(s, records).snapshot_id for s in args.snapshots]
            keep = [r.snapshot_id for r in records if r.snapshot_id not in remove]
            reasons: dict[str, list[str]] = {}
        else:
            fields = parse_group_by(args.group_by)
            cands = [
                Candidate(
                    r.snapshot_id,
                    r.received if haven and r.received is not None else r.time,
                    tuple(r.doc.get("tags", [])),
                    repr(group_key(r.doc, fields)),
                )
                for r in select(records, args)
            ]
            decision = apply_policy(cands, policy)
            remove, keep, reasons = decision.remove, decision.keep, decision.reasons
        if not args.dry_run:
            for sid in remove:
                repo.delete_snapshot(sid)
    if args.json:
        emit_json(
            ctx, {"keep": keep, "remove": remove, "reasons": reasons, "dry_run": args.dry_run}
        )
    else:
        _tell(ctx, args, records, keep, remove, reasons)
    if args.prune and not args.dry_run:
        return prune_cmd.run(args, ctx)
    return 0


def _tell(
    ctx: CliContext,
    args: argparse.Namespace,
    records: list[SnapshotRecord],
    keep: list[str],
    remove: list[str],
    reasons: dict[str, list[str]],
) -> None:
    """restic's account: the snapshots kept, each with the rules that keep it, then the ones
    removed."""
    out = out_console(ctx)
    by_id = {r.snapshot_id: r for r in records}
    zone = config.time_zone(args, ctx)
    if reasons:  # a policy was applied: say why each one stays
        kept = [by_id[s] for s in keep if s in by_id and s in reasons]
        out.print(f"keep {len(kept)} snapshot(s):")
        rows = [[*_columns(r, zone), ", ".join(reasons[r.snapshot_id])] for r in kept]
        print_table(ctx, ["ID", "Time", "Host", "Tags", "Paths", "Reasons"], rows)
    gone = [by_id[s] for s in remove if s in by_id]
    out.print(
        f"{'would remove' if args.dry_run else 'removed'} {len(gone)} snapshot(s), "
        f"keeping {len(keep)}"
    )
    if gone:
        print_table(ctx, ["ID", "Time", "Host", "Tags", "Paths"], [_columns(r, zone) for r in gone])


def _columns(r: SnapshotRecord, zone: tzinfo | None) -> list[str]:
    return [
        short(r.snapshot_id),
        show_time(r.time, zone),
        str(r.doc.get("hostname", "")),
        ",".join(r.doc.get("tags", [])),
        "\n".join(r.doc.get("paths", [])),
    ]
