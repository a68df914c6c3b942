"""kaikyo rewrite [SNAPSHOT...] --exclude PATTERN: remove files from existing snapshots.

restic's command and meanings: each selected snapshot in which an exclude matches gets a new
manifest over a tree without what matched (see :mod:`kaikyo.snapshot.rewrite`), with the
same time, host, paths and tags, ``original`` naming the manifest it replaces and the tag
``rewrite``; with ``--forget`` the old manifest is removed instead of tagging the new one.
The data only the old snapshot referenced stays until ``prune``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.excludes import add_exclude_args, exclude_patterns
from kaikyo.cli.manifests import DeleteRefused, remove_replaced
from kaikyo.cli.output import emit_json, human_bytes, out_console, show_path
from kaikyo.cli.selection import add_filter_args, select
from kaikyo.cli.session import Mode, repository
from kaikyo.core.ids import short
from kaikyo.errors import PermissionDeniedError, UsageError

if TYPE_CHECKING:
    from kaikyo.repo import Repository, SnapshotRecord
    from kaikyo.snapshot.rewrite import Change, Removed

DESCRIPTION = (
    "Remove files from existing snapshots, as restic's rewrite: each selected snapshot in "
    "which an exclude matches is saved again without what matched (a directory goes with "
    "everything in it), with the same time, host, paths and tags, 'original' naming the "
    "snapshot it replaces and the tag 'rewrite'. With --forget the old snapshot is removed "
    "instead (at a haven: an admin token). A snapshot in which nothing matches is left "
    "alone. No ids: every snapshot the filters select. Only 'kaikyo prune' removes the data "
    "no snapshot references any more. Unlike restic, a rerun after an interruption reuses "
    "the manifest it saved instead of saving a second one."
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "rewrite",
        help="remove files from existing snapshots",
        description=DESCRIPTION,
        epilog="""examples:
  kaikyo rewrite --exclude '*.pem' --exclude '/home/*/.ssh' --dry-run
  kaikyo rewrite latest --exclude 秘密 --forget
  kaikyo rewrite --host web1 --path /etc --exclude-file never-leave.txt
  kaikyo rewrite --iexclude '*.TMP' --json""",
    )
    p.add_argument(
        "snapshots", nargs="*", help="snapshot ids (default: every snapshot the filters select)"
    )
    add_exclude_args(p, "remove")
    p.add_argument(
        "--forget",
        action="store_true",
        help="remove the old snapshots once the new ones are saved (needs delete rights)",
    )
    p.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="list what would be removed from each snapshot; write nothing",
    )
    add_filter_args(p, paths=True)
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    excludes, iexcludes = exclude_patterns(args)
    if not (excludes or iexcludes):
        raise UsageError(
            "nothing to do: no exclude patterns", "give --exclude PATTERN or --exclude-file FILE"
        )
    # As restic: removing manifests needs the exclusive lock; saving new ones a shared one,
    # as a backup; a dry run none, over a read-only view of the store.
    mode: Mode = "read" if args.dry_run else "exclusive" if args.forget else "shared"
    outcomes: list[dict[str, Any]] = []
    refused: PermissionDeniedError | None = None
    with repository(args, ctx, mode, write=not args.dry_run) as repo:
        from kaikyo.snapshot.filters import ExcludeMatcher  # the engine, once the key is open

        records = repo.list_snapshots()
        chosen = _chosen(repo, records, args)
        changes, unchanged = _plan(repo, chosen, ExcludeMatcher(excludes, iexcludes), args)
        if not args.dry_run:
            for change in changes:
                try:
                    outcomes.append(_commit(repo, change, records, forget=args.forget))
                except DeleteRefused as exc:
                    refused = exc.error  # the others are left as they are
                    break
    _report(args, ctx, changes, outcomes, unchanged)
    if refused is not None:
        raise refused
    return 0


def _chosen(
    repo: Repository, records: list[SnapshotRecord], args: argparse.Namespace
) -> list[SnapshotRecord]:
    if not args.snapshots:
        return select(records, args)
    found = [repo.find_snapshot(ref, records) for ref in args.snapshots]
    return list({r.snapshot_id: r for r in found}.values())


def _plan(
    repo: Repository, chosen: list[SnapshotRecord], matcher: Any, args: argparse.Namespace
) -> tuple[list[Change], list[SnapshotRecord]]:
    """Rewrite the trees; unless a dry run, flushed into packs and the index before any
    manifest names them."""
    from kaikyo.snapshot.rewrite import TreeRewriter, plan_changes

    if not args.dry_run:
        repo.adopt_unindexed()  # trees a killed rewrite stored are indexed, not written again
    writer = repo.writer(dry_run=args.dry_run)
    try:
        rewriter = TreeRewriter(repo, matcher, writer.save_tree)
        changes, unchanged = plan_changes(rewriter, chosen, forget=args.forget)
        if not args.dry_run:
            writer.flush()
    finally:
        writer.close()
    return changes, unchanged


def _commit(
    repo: Repository, change: Change, records: list[SnapshotRecord], *, forget: bool
) -> dict[str, Any]:
    """Save the new manifest (or find it saved by an interrupted run), then, with
    ``forget``, remove the old one: in this order, so a crash never loses the snapshot."""
    from kaikyo.snapshot.rewrite import find_saved

    old = change.record.snapshot_id
    new = find_saved(change.doc, records)
    saved = new is None
    if new is None:
        new = repo.save_snapshot(change.doc)
    if forget:
        remove_replaced(repo, old, new, "without the excluded files")
    return {"old": old, "new": new, "saved": saved, "forgotten": forget}


def _removed_json(r: Removed) -> dict[str, Any]:
    return {
        "path": show_path(r.path),
        "type": r.type.value,
        "files": r.files,
        "dirs": r.dirs,
        "other": r.other,
        "bytes": r.bytes,
    }


def _report(
    args: argparse.Namespace,
    ctx: CliContext,
    changes: list[Change],
    outcomes: list[dict[str, Any]],
    unchanged: list[SnapshotRecord],
) -> None:
    done = {o["old"]: o for o in outcomes}
    if args.json:
        emit_json(
            ctx,
            {
                "dry_run": args.dry_run,
                "forget": args.forget,
                "rewritten": [
                    {
                        "id": c.record.snapshot_id,
                        "tree": c.tree,
                        "removed": [_removed_json(r) for r in c.removed],
                        **done.get(c.record.snapshot_id, {}),
                    }
                    for c in changes
                    if args.dry_run or c.record.snapshot_id in done
                ],
                "unchanged": [r.snapshot_id for r in unchanged],
            },
        )
        return
    out = out_console(ctx)
    for c in changes:
        outcome = done.get(c.record.snapshot_id)
        if not args.dry_run and outcome is None:
            continue  # not reached: a removal before it was refused
        out.print(_headline(c, outcome))
        for r in c.removed:
            out.print(f"  - {show_path(r.path)}{_below(r)}")
    for record in unchanged:
        out.print(f"snapshot {short(record.snapshot_id)}: no changes")
    out.print(_tail(args, len(done) if not args.dry_run else len(changes)))


def _headline(c: Change, outcome: dict[str, Any] | None) -> str:
    files = sum(r.files for r in c.removed)
    size = human_bytes(sum(r.bytes for r in c.removed))
    head = f"snapshot {short(c.record.snapshot_id)}"
    what = f"{files} file(s), {size}"
    if outcome is None:
        return f"{head}: would remove {what}:"
    new = short(outcome["new"])
    saved = f"saved as {new}" if outcome["saved"] else f"already saved as {new}"
    gone = ", old one removed" if outcome["forgotten"] else ""
    return f"{head}: removed {what}; {saved}{gone}:"


def _below(r: Removed) -> str:
    if r.type.value != "dir":
        return ""
    return f"/ (with {r.files} file(s), {human_bytes(r.bytes)})"


def _tail(args: argparse.Namespace, count: int) -> str:
    if args.dry_run:
        return f"dry run: would rewrite {count} snapshot(s); nothing was written"
    line = f"rewrote {count} snapshot(s)"
    if count:
        line += "; 'kaikyo prune' removes the data no snapshot references any more"
    return line
