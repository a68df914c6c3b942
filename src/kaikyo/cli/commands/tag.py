"""kaikyo tag: add, remove or set the tags of snapshots (restic's meanings).

A manifest is content-addressed, so changing its tags rewrites it: the new manifest is saved
with the new tags and ``original`` (the first id the snapshot had, kept through later
rewrites), then the old one is deleted.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.manifests import DeleteRefused, remove_replaced
from kaikyo.cli.output import emit_json, out_console
from kaikyo.cli.selection import add_filter_args, select
from kaikyo.cli.session import repository
from kaikyo.cli.tags import parse_tags
from kaikyo.core.ids import short
from kaikyo.errors import PermissionDeniedError, UsageError

if TYPE_CHECKING:
    from kaikyo.repo import Repository, SnapshotRecord


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tag",
        help="add, remove or set snapshot tags",
        description="Change the tags of the given snapshots (no ids: of every snapshot "
        "--host and --tag select), as restic's tag: the manifest is rewritten, with "
        "'original' naming the snapshot's first id. At a haven this needs an admin token.",
        epilog="""examples:
  kaikyo tag latest --add keep
  kaikyo tag 4f3c2a1b --remove nightly --add weekly
  kaikyo tag --host web1 --set prod,web
  kaikyo tag latest --set ''""",
    )
    p.add_argument(
        "snapshots", nargs="*", help="snapshot ids (default: every snapshot the filters select)"
    )
    p.add_argument(
        "--add", action="append", default=[], metavar="TAG", help="add TAG (repeatable; a,b: both)"
    )
    p.add_argument(
        "--remove",
        action="append",
        default=[],
        metavar="TAG",
        help="remove TAG (repeatable; a,b: both)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TAG",
        help="replace all tags with these (--set '' removes every tag)",
    )
    add_filter_args(p, paths=True)
    config.add_repo_args(p)
    p.set_defaults(func=run)


def retag(old: list[str], add: list[str], remove: list[str], set_to: list[str] | None) -> list[str]:
    """The tags after the change: ``set_to`` if given, else ``old`` with ``add`` appended
    (those it lacks), then ``remove`` taken out."""
    if set_to is not None:
        return set_to
    tags = old + [t for t in add if t not in old]
    return [t for t in tags if t not in remove]


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.set and (args.add or args.remove):
        raise UsageError("--set cannot be combined with --add or --remove")
    if not (args.set or args.add or args.remove):
        raise UsageError("nothing to do", "give --add TAG, --remove TAG or --set TAG")
    add, remove = parse_tags(args.add, "--add"), parse_tags(args.remove, "--remove")
    set_to = parse_tags(args.set, "--set", clear=True) if args.set else None
    changes: list[dict[str, Any]] = []
    refused: PermissionDeniedError | None = None
    with repository(args, ctx, "exclusive", load_index=False, write=True) as repo:
        records = repo.list_snapshots()
        if args.snapshots:
            found = [repo.find_snapshot(ref, records) for ref in args.snapshots]
            chosen = list({r.snapshot_id: r for r in found}.values())
        else:
            chosen = select(records, args)
        for record in chosen:
            old = list(record.doc.get("tags", []))
            tags = retag(old, add, remove, set_to)
            if tags == old:
                continue  # left alone: no new manifest for a change that changes nothing
            try:
                changes.append(_rewrite(repo, record, tags))
            except DeleteRefused as exc:
                refused = exc.error  # the others are left as they are: one duplicate at most
                break
    _report(args, ctx, changes)
    if refused is not None:
        raise refused
    return 0


def _rewrite(repo: Repository, record: SnapshotRecord, tags: list[str]) -> dict[str, Any]:
    old = record.snapshot_id
    doc = {**record.doc, "tags": tags, "original": record.doc.get("original", old)}
    new = repo.save_snapshot(doc)
    # The new manifest is stored before the old one is deleted. A crash in between leaves
    # both: two snapshots of the same tree and time that differ in their tags, which the next
    # tag or forget sees as two snapshots. Acceptable (nothing is lost; forget either one);
    # deleting first could lose the snapshot.
    remove_replaced(repo, old, new, "with the new tags")
    return {"old": old, "new": new, "tags": tags}


def _report(args: argparse.Namespace, ctx: CliContext, changes: list[dict[str, Any]]) -> None:
    if args.json:
        emit_json(ctx, changes)
        return
    out = out_console(ctx)
    out.print(f"changed {len(changes)} snapshot(s)")
    for c in changes:
        tags = ",".join(c["tags"]) or "(no tags)"
        out.print(f"  {short(c['old'])} -> {short(c['new'])}: {tags}")
