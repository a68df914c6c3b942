"""kaikyo stats: raw size, restore size, deduplication and compression ratios."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console
from kaikyo.cli.session import repository


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "stats",
        help="repository statistics",
        description="How much the snapshots (or one) hold: files and their restore size, "
        "the unique chunks they use with their size before and after compression, and the "
        "size of everything stored in the repository.",
        epilog="""examples:
  kaikyo stats
  kaikyo stats latest --json""",
    )
    p.add_argument(
        "snapshot", nargs="?", metavar="SNAPSHOT", help="only this snapshot (id, prefix, 'latest')"
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read") as repo:
        from kaikyo.core.format.tree import NodeType
        from kaikyo.snapshot import trees  # the engine, once the key is open

        records = repo.list_snapshots()
        if args.snapshot:
            records = [repo.find_snapshot(args.snapshot, records)]
        restore_size = 0
        files = 0
        unique: set[bytes] = set()
        for rec in records:
            for _, node in trees.walk(repo, rec.doc["tree"]):
                if node.type is NodeType.FILE:
                    files += 1
                    restore_size += node.size or 0
                    unique.update(node.blob_ids())
        raw = 0
        stored = 0
        for bid in unique:
            loc = repo.index.lookup(bid)
            if loc is not None:
                raw += loc.raw_length
                stored += loc.length
        repo_size = sum(o.size for o in repo.store.list(""))
    result = {
        "snapshots": len(records),
        "files": files,
        "restore_size": restore_size,
        "unique_data_raw": raw,
        "unique_data_stored": stored,
        "repository_size": repo_size,
        "blobs": len(repo.index),
        "index_bytes_in_memory": repo.index.nbytes(),
        "dedup_ratio": round(restore_size / raw, 3) if raw else None,
        "compression_ratio": round(raw / stored, 3) if stored else None,
    }
    if args.json:
        emit_json(ctx, result)
        return 0
    out = out_console(ctx)
    out.print(f"snapshots: {len(records)}, files: {files}")
    out.print(f"restore size: {human_bytes(restore_size)}")
    out.print(f"unique data: {human_bytes(raw)} raw, {human_bytes(stored)} stored")
    out.print(f"repository size: {human_bytes(repo_size)}")
    out.print(f"deduplication {result['dedup_ratio']}x, compression {result['compression_ratio']}x")
    return 0
