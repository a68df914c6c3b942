"""kaikyo backup PATH...: an incremental, deduplicated, encrypted snapshot.

Or of standard input, or of a command's output, as one file (``--stdin``,
``--stdin-from-command -- CMD...``); paths may also come from lists (``--files-from``...).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from kaikyo.cli import config, exitcodes, pathlists
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console
from kaikyo.cli.progress import BackupBar
from kaikyo.cli.session import repository
from kaikyo.core.ids import short
from kaikyo.errors import ConfigError, NotFoundError, UsageError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "backup",
        help="back up files and directories",
        description="Save a snapshot of the given paths (or of standard input, or of a "
        "command's output): files are cut into content-defined chunks, and only chunks the "
        "repository does not hold yet are compressed, encrypted and stored. Unchanged files "
        "are recognised by the files cache and not read again. Exit 3: the snapshot was "
        "saved but some files could not be read (they are listed in it).",
        epilog="""examples:
  kaikyo backup /etc /home --tag nightly
  kaikyo backup /srv --exclude '*.tmp' --exclude '/srv/cache' --one-file-system
  kaikyo backup --stdin-from-command --stdin-filename db.sql -- pg_dump mydb
  find /srv -name '*.conf' -print0 | kaikyo backup --files-from-raw -
  kaikyo backup /home --dry-run --json""",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="what to back up; with --stdin-from-command, the command and its arguments",
    )
    for flag, what in (
        ("--files-from", "one path or glob pattern a line; '#' starts a comment"),
        ("--files-from-verbatim", "one path a line, exactly"),
        ("--files-from-raw", "paths each ending in a NUL byte (find -print0)"),
    ):
        p.add_argument(
            flag,
            action="append",
            default=[],
            metavar="FILE",
            help=f"also back up the paths listed in FILE ('-': standard input): {what} "
            "(repeatable)",
        )
    p.add_argument(
        "--stdin",
        action="store_true",
        help="back up standard input as one file (named by --stdin-filename)",
    )
    p.add_argument(
        "--stdin-from-command",
        action="store_true",
        help="run the command given after '--' and back up its output as one file; "
        "if it fails, nothing is saved",
    )
    p.add_argument(
        "--stdin-filename",
        metavar="NAME",
        help="the file's name in the snapshot, at its root (default: stdin)",
    )
    p.add_argument(
        "-e",
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="exclude what matches PATTERN, as restic: '/...' from the root, anything else at "
        "any depth; * and ? stay within a name, ** spans directories; !PATTERN takes back "
        "(repeatable)",
    )
    p.add_argument(
        "--iexclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="as --exclude, ignoring the case of letters (repeatable)",
    )
    p.add_argument(
        "--exclude-file",
        action="append",
        default=[],
        metavar="FILE",
        help="read exclude patterns from a file, one per line ('#' starts a comment)",
    )
    p.add_argument(
        "--iexclude-file",
        action="append",
        default=[],
        metavar="FILE",
        help="as --exclude-file, ignoring the case of letters",
    )
    p.add_argument(
        "-x", "--one-file-system", action="store_true", help="do not cross filesystem boundaries"
    )
    p.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="tag the snapshot (repeatable)"
    )
    p.add_argument("--host", metavar="HOST", help="record this hostname instead of the machine's")
    p.add_argument(
        "-n", "--dry-run", action="store_true", help="show what would be stored, store nothing"
    )
    p.add_argument(
        "--no-cache", action="store_true", help="read every file (ignore the files cache)"
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def _excludes(patterns: list[str], files: list[str]) -> tuple[str, ...]:
    patterns = list(patterns)
    for f in files:
        try:
            lines = Path(f).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read exclude file {f}: {exc.strerror}") from None
        patterns += [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    return tuple(patterns)


def _stream(args: argparse.Namespace, ctx: CliContext) -> tuple[bytes, int, tuple[str, ...]] | None:
    """With --stdin or --stdin-from-command: the file's name, the descriptor to read and the
    command to run (a StreamSource's fields); checked before the repository is opened."""
    if not (args.stdin or args.stdin_from_command):
        if args.stdin_filename is not None:
            raise UsageError("--stdin-filename needs --stdin or --stdin-from-command")
        return None
    flag = "--stdin" if args.stdin else "--stdin-from-command"
    if args.stdin and args.stdin_from_command:
        raise UsageError("--stdin and --stdin-from-command exclude each other")
    if args.files_from or args.files_from_verbatim or args.files_from_raw:
        raise UsageError(f"{flag} cannot be combined with --files-from*")
    if args.stdin and args.paths:
        raise UsageError("--stdin takes no paths", "give the file's name with --stdin-filename")
    if args.stdin_from_command and not args.paths:
        raise UsageError(
            "--stdin-from-command needs a command", "e.g. backup --stdin-from-command -- pg_dump db"
        )
    shown = "stdin" if args.stdin_filename is None else args.stdin_filename
    name = os.fsencode(shown)
    if not name or b"/" in name or name in (b".", b".."):
        raise UsageError(f"--stdin-filename {shown!r}: a file name is needed, without '/'")
    if args.stdin_from_command:
        return name, -1, tuple(args.paths)
    return name, ctx.stdin.fileno(), ()


def _paths(args: argparse.Namespace, ctx: CliContext) -> tuple[bytes, ...]:
    """The positional paths and those the lists name."""
    listed = pathlists.listed_paths(
        args.files_from, args.files_from_verbatim, args.files_from_raw, ctx
    )
    paths = tuple(os.fsencode(p) for p in args.paths) + tuple(listed)
    if paths:
        return paths
    if args.files_from or args.files_from_verbatim or args.files_from_raw:
        raise NotFoundError("the lists given name no path to back up", "nothing was saved")
    raise UsageError("no paths to back up", "give paths, --files-from FILE or --stdin")


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    stream = _stream(args, ctx)
    paths = () if stream is not None else _paths(args, ctx)
    with repository(args, ctx, "shared", write=True) as repo:
        # Imported once the key is open: see cli/session.py.
        from kaikyo.snapshot import BackupOptions, StreamSource, run_backup

        cache = None if args.no_cache else (config.cache_dir(ctx) / repo.config.repo_id / "files")
        records = repo.list_snapshots()
        host = args.host or config.hostname()
        parent = next(
            (r.snapshot_id for r in reversed(records) if r.doc.get("hostname") == host), None
        )
        opts = BackupOptions(
            paths=paths,
            time=ctx.clock.now(),
            excludes=_excludes(args.exclude, args.exclude_file),
            iexcludes=_excludes(args.iexclude, args.iexclude_file),
            one_file_system=args.one_file_system,
            tags=tuple(args.tag),
            host=host,
            user=config.username(),
            dry_run=args.dry_run,
            workers=config.worker_count(ctx),
            cache_file=cache,
            stream=None if stream is None else StreamSource(*stream),
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
