"""kaikyo check [--read-data]: prove the repository's structure, and with --read-data every byte."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console
from kaikyo.cli.progress import MeterView
from kaikyo.cli.session import repository
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError, UsageError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="verify the repository",
        description="Check the repository's structure: every index, snapshot and tree "
        "authenticates, every blob a snapshot needs is in an indexed pack, and no pack is "
        "missing. --read-data also reads every pack and checks each blob's bytes against "
        "its id. Findings go to stderr with the snapshots and files they affect; exit 15 if "
        "any is an error.",
        epilog="""examples:
  kaikyo check
  kaikyo check --read-data --json""",
    )
    p.add_argument("--read-data", action="store_true", help="read and verify every pack")
    p.add_argument(
        "--read-data-subset",
        metavar="SUBSET",
        help="read and verify only some packs (restic's forms): n/t, group n of t by pack "
        "id (1/7 to 7/7 on seven days read all once); x%%, a random share; SIZE (500M, 2G), "
        "random packs up to that many bytes",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    subset = None
    if args.read_data_subset is not None and args.read_data:
        raise UsageError(
            "--read-data and --read-data-subset are given together",
            "--read-data reads every pack; pass one of them",
        )
    if args.read_data_subset is not None:
        from kaikyo.snapshot.subset import ReadSubset  # light: no engine before the key

        subset = ReadSubset.parse(args.read_data_subset)
    with (
        repository(args, ctx, "shared", load_index=False) as repo,
    ):
        from kaikyo.snapshot.check import check  # the engine, once the key is open
        from kaikyo.snapshot.progress import Meter

        meter = Meter()
        with MeterView(ctx, meter, args.json):
            report = check(repo, read_data=args.read_data, meter=meter, subset=subset)
    errors = [f for f in report.findings if f.severity == "error"]
    if args.json:
        emit_json(
            ctx,
            {
                "message_type": "summary",
                "ok": report.ok,
                "packs": report.packs,
                "packs_read": report.packs_read,
                "snapshots": report.snapshots,
                "trees": report.trees,
                "blobs": report.blobs,
                "findings": [asdict(f) for f in report.findings],
            },
        )
    else:
        out = out_console(ctx)
        for f in report.findings:
            ctx.stderr.write(f"{f.severity}: {f.message}\n")
            if f.snapshots:
                ctx.stderr.write(
                    f"  affects snapshots: {', '.join(short(s) for s in f.snapshots)}\n"
                )
            for path in f.files[:10]:
                ctx.stderr.write(f"  affects: {path}\n")
        out.print(
            f"checked {report.snapshots} snapshots, {report.trees} trees, "
            f"{report.packs} packs"
            + (f" ({report.packs_read} read)" if args.read_data or subset else "")
        )
        if report.ok:
            out.print("no errors were found")
    if errors:
        raise IntegrityError(
            f"check found {len(errors)} error(s)",
            "see the findings above; 'kaikyo repair' rebuilds a lost index",
        )
    return 0
