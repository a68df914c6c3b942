"""kaikyo backup PATH...: an incremental, deduplicated, encrypted snapshot."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from kaikyo.cli import config, exitcodes
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console
from kaikyo.cli.progress import BackupBar
from kaikyo.cli.session import repository
from kaikyo.core.ids import short
from kaikyo.errors import ConfigError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("backup", help="back up files and directories")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument(
        "-e",
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="exclude paths or names matching a shell pattern (repeatable)",
    )
    p.add_argument(
        "--exclude-file",
        action="append",
        default=[],
        metavar="FILE",
        help="read exclude patterns from a file, one per line",
    )
    p.add_argument(
        "-x", "--one-file-system", action="store_true", help="do not cross filesystem boundaries"
    )
    p.add_argument("--tag", action="append", default=[], help="tag the snapshot (repeatable)")
    p.add_argument("--host", help="record this hostname instead of the machine's")
    p.add_argument(
        "-n", "--dry-run", action="store_true", help="show what would be stored, store nothing"
    )
    p.add_argument(
        "--no-cache", action="store_true", help="read every file (ignore the files cache)"
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def _excludes(args: argparse.Namespace) -> tuple[str, ...]:
    patterns = list(args.exclude)
    for f in args.exclude_file:
        try:
            lines = Path(f).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read exclude file {f}: {exc.strerror}") from None
        patterns += [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    return tuple(patterns)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    paths = tuple(os.fsencode(p) for p in args.paths)
    with repository(args, ctx, "shared", write=True) as repo:
        # Imported once the key is open: see cli/session.py.
        from kaikyo.snapshot import BackupOptions, run_backup

        cache = None if args.no_cache else (config.cache_dir(ctx) / repo.config.repo_id / "files")
        records = repo.list_snapshots()
        host = args.host or config.hostname()
        parent = next(
            (r.snapshot_id for r in reversed(records) if r.doc.get("hostname") == host), None
        )
        opts = BackupOptions(
            paths=paths,
            time=ctx.clock.now(),
            excludes=_excludes(args),
            one_file_system=args.one_file_system,
            tags=tuple(args.tag),
            host=host,
            user=config.username(),
            dry_run=args.dry_run,
            workers=config.worker_count(ctx),
            cache_file=cache,
        )
        with BackupBar(ctx, enabled=not args.json) as bar:
            result = run_backup(repo, opts, bar, parent=parent)
    s = result.summary
    if args.json:
        emit_json(
            ctx,
            {
                "snapshot_id": result.snapshot_id,
                "dry_run": args.dry_run,
                "summary": s,
                "errors": result.errors,
                "adopted_packs": result.adopted_packs,
                "cache_problem": result.cache_problem,
            },
        )
    else:
        out = out_console(ctx)
        for err in result.errors:
            ctx.stderr.write(f"kaikyo: warning: {err['path']}: {err['error']}\n")
        if result.cache_problem:
            ctx.stderr.write(
                f"kaikyo: warning: the files cache was not saved "
                f"({result.cache_problem}); the next backup reads every file "
                f"again (set KAIKYO_CACHE_DIR to a writable directory)\n"
            )
        out.print(
            f"files: {s['files_new']} new, {s['files_changed']} changed, "
            f"{s['files_unmodified']} unmodified; dirs: {s['dirs']}"
        )
        out.print(
            f"added {human_bytes(s['data_added'])} "
            f"(stored {human_bytes(s['data_stored'])}) of "
            f"{human_bytes(s['bytes_total'])} processed"
        )
        if result.adopted_packs:
            out.print(
                f"resumed: reused {result.adopted_packs} pack(s) left by an interrupted backup"
            )
        if result.snapshot_id:
            out.print(f"snapshot {short(result.snapshot_id)} saved")
        else:
            out.print("dry run: nothing was stored")
    if result.errors:
        ctx.stderr.write(
            f"kaikyo: warning: {len(result.errors)} file(s) could not be read; "
            "the snapshot is incomplete\n"
        )
        return exitcodes.INCOMPLETE
    return 0
