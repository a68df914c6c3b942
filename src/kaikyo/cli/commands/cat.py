"""kaikyo cat config|index|snapshot|tree|keys ID: decrypted structures as JSON, for debugging."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json
from kaikyo.cli.session import repository
from kaikyo.errors import UsageError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "cat",
        help="print internal structures as JSON",
        description="Decrypt and print one of the repository's internal structures as JSON, "
        "for debugging and for scripts: its config, the index, a snapshot, a tree, the key "
        "slots (no secrets), or a pack's header.",
        epilog="""examples:
  kaikyo cat config
  kaikyo cat snapshot latest
  kaikyo cat tree 9c1e4b...
  kaikyo cat pack 0a7d3f...""",
    )
    p.add_argument(
        "what",
        choices=["config", "index", "snapshot", "tree", "keys", "pack"],
        help="config, index, snapshot, tree, keys or pack",
    )
    p.add_argument("id", nargs="?", help="snapshot id/'latest', tree id, or pack id")
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read", load_index=args.what in ("index", "tree")) as repo:
        # The engine, once the key is open.
        from kaikyo.core.format.tree import decode_tree
        from kaikyo.core.ids import parse_hex_id

        out: Any
        if args.what == "config":
            out = json.loads(repo.config.to_json())
        elif args.what == "keys":
            out = [asdict(k) for k in repo.list_keys()]
        elif args.what == "snapshot":
            rec = repo.find_snapshot(args.id or "latest")
            out = {"id": rec.snapshot_id, **rec.doc}
        elif args.what == "tree":
            if not args.id:
                raise UsageError("cat tree needs a tree id (or a snapshot id)")
            try:
                tid = parse_hex_id(args.id, "tree id")
            except UsageError:
                tid = bytes.fromhex(repo.find_snapshot(args.id).doc["tree"])
            out = decode_tree(repo.load_blob(tid))
        elif args.what == "pack":
            if not args.id:
                raise UsageError("cat pack needs a pack id")
            out = [
                {
                    "type": e.blob_type,
                    "id": e.blob_id.hex(),
                    "offset": e.offset,
                    "length": e.length,
                    "raw_length": e.raw_length,
                }
                for e in repo.read_pack_header(parse_hex_id(args.id, "pack id"))
            ]
        else:
            out = [
                {"pack": pid.hex(), "blobs": len(entries)}
                for pid, entries in repo.index.by_pack().items()
            ]
    emit_json(ctx, out)
    return 0
