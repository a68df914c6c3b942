"""kaikyo list KIND: the ids of the objects of one kind the store holds (as restic's list).

It reads the store's listing only; the repository is opened (the passphrase checked) so that
it answers for a repository, not for any directory. ``list blobs`` reads the index instead:
one ``data ID`` or ``tree ID`` line per blob it lists (once, however many copies).
"""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json
from kaikyo.cli.session import repository
from kaikyo.core.constants import (
    DATA_PREFIX,
    INDEX_PREFIX,
    KEY_PREFIX,
    LOCK_PREFIX,
    SNAPSHOT_PREFIX,
)

# restic's kinds; blobs come from the index, not a listing.
KINDS = {
    "snapshots": SNAPSHOT_PREFIX,
    "index": INDEX_PREFIX,
    "keys": KEY_PREFIX,
    "locks": LOCK_PREFIX,
    "packs": DATA_PREFIX,
}
BLOBS = "blobs"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "list",
        help="list the ids of objects of a kind",
        description="Print the id of every stored object of one kind, one a line, as "
        "restic's list: snapshots, index files, key slots, locks or packs; 'blobs' prints "
        "'data ID' or 'tree ID' for every blob of the index.",
        epilog="""examples:
  kaikyo list snapshots
  kaikyo list packs | wc -l
  kaikyo list blobs | grep -c '^tree'
  kaikyo list locks --json""",
    )
    kinds = [*KINDS, BLOBS]
    p.add_argument("kind", choices=kinds, metavar="KIND", help="one of: " + ", ".join(kinds))
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.kind == BLOBS:
        return _blobs(args, ctx)
    with repository(args, ctx, "read", load_index=False) as repo:
        # The id is the name's last segment: snapshots/H, data/HH/H.
        ids = sorted(info.name.rsplit("/", 1)[-1] for info in repo.store.list(KINDS[args.kind]))
    if args.json:
        emit_json(ctx, ids)
    else:
        ctx.stdout.write("".join(f"{i}\n" for i in ids))
    return 0


def _blobs(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read") as repo:
        from kaikyo.core.constants import BLOB_TREE

        blobs = sorted(
            {
                ("tree" if entry.blob_type == BLOB_TREE else "data", entry.blob_id.hex())
                for _, entry in repo.index.entries()
            }
        )
    if args.json:
        emit_json(ctx, [{"type": kind, "id": blob_id} for kind, blob_id in blobs])
    else:
        ctx.stdout.write("".join(f"{kind} {blob_id}\n" for kind, blob_id in blobs))
    return 0
