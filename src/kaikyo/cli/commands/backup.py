"""kaikyo backup PATH...: an incremental, deduplicated, encrypted snapshot.

Or of standard input, or of a command's output, as one file (``--stdin``,
``--stdin-from-command -- CMD...``); paths may also come from lists (``--files-from``...).
The flags that filter the walk and tune the session are in :mod:`kaikyo.cli.backupflags`,
the output in :mod:`kaikyo.cli.backupreport`.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from kaikyo.cli import backupflags, backupreport, config, exitcodes, pathlists
from kaikyo.cli.context import CliContext
from kaikyo.cli.excludes import add_exclude_args, exclude_patterns
from kaikyo.cli.session import Mode, repository
from kaikyo.cli.tags import parse_tags
from kaikyo.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from kaikyo.repo import SnapshotRecord


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
  kaikyo backup /home --dry-run --json
  kaikyo backup /home -n -v --exclude-caches --exclude-larger-than 2G   # what would be saved
  kaikyo backup /srv --skip-if-unchanged --tag daily,db --compression max""",
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
    add_exclude_args(p, "exclude")
    backupflags.register_filters(p)
    p.add_argument(
        "-x", "--one-file-system", action="store_true", help="do not cross filesystem boundaries"
    )
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG[,TAG...]",
        help="tag the snapshot (repeatable; a,b: both)",
    )
    p.add_argument("--host", metavar="HOST", help="record this hostname instead of the machine's")
    p.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="read and count what would be stored, store nothing (no lock either); "
        "-v lists the files",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="list the files saved: new, modified (restic lists files only at -vv); -vv "
        "also the unchanged ones; with --json, every file is a verbose_status line, as restic's",
    )
    backupflags.register_tuning(p)
    p.add_argument(
        "--no-cache", action="store_true", help="read every file (ignore the files cache)"
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


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


def _previous(records: list[SnapshotRecord], host: str, paths: list[str]) -> SnapshotRecord | None:
    """The last snapshot of this host and these paths: the one a backup that changed
    nothing repeats (restic's parent for --skip-if-unchanged)."""
    for r in reversed(records):
        if r.doc.get("hostname") == host and r.doc.get("paths") == paths:
            return r
    return None


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    stream = _stream(args, ctx)
    paths = () if stream is not None else _paths(args, ctx)
    flags = backupflags.resolve(args, ctx)
    excludes, iexcludes = exclude_patterns(args)  # an unreadable file fails before anything
    tags = tuple(parse_tags(args.tag, "--tag"))
    # A dry run stores nothing, so it takes no lock and sees the store read-only (restic
    # takes no lock either): whatever it does, it cannot leave an object behind.
    mode: Mode = "read" if args.dry_run else "shared"
    with repository(args, ctx, mode, write=not args.dry_run) as repo:
        # Imported once the key is open: see cli/session.py.
        from kaikyo.repo import WriteTuning
        from kaikyo.snapshot import BackupOptions, StreamSource, normalise_paths, run_backup

        cache = None if args.no_cache else (config.cache_dir(ctx) / repo.config.repo_id / "files")
        records = repo.list_snapshots()
        host = args.host or config.hostname()
        parent = next(
            (r.snapshot_id for r in reversed(records) if r.doc.get("hostname") == host), None
        )
        recorded = (
            [os.fsdecode(stream[0])] if stream else list(map(os.fsdecode, normalise_paths(paths)))
        )
        previous = _previous(records, host, recorded)
        opts = BackupOptions(
            paths=paths,
            time=ctx.clock.now(),
            excludes=excludes,
            iexcludes=iexcludes,
            one_file_system=args.one_file_system,
            tags=tags,
            host=host,
            user=config.username(),
            dry_run=args.dry_run,
            workers=flags.workers,
            cache_file=cache,
            stream=None if stream is None else StreamSource(*stream),
            tag_files=flags.tag_files,
            max_file_size=flags.max_file_size,
            skip_if_unchanged=args.skip_if_unchanged,
            tuning=WriteTuning(flags.compression, flags.pack_size),
        )
        scanner = None
        if stream is None:
            from kaikyo.snapshot.filters import ExcludeMatcher
            from kaikyo.snapshot.scan import Scanner

            scanner = Scanner(
                normalise_paths(paths),
                ExcludeMatcher(opts.excludes, opts.iexcludes),
                opts.one_file_system,
                opts.max_file_size,
            )
        with backupreport.FileLister(ctx, args.verbose, args.json, scanner) as lister:
            result = run_backup(
                repo,
                opts,
                lister,
                parent=parent,
                unchanged_tree=None if previous is None else previous.doc.get("tree"),
            )
    backupreport.report(ctx, args, result, None if previous is None else previous.snapshot_id)
    if result.errors:
        ctx.stderr.write(
            f"kaikyo: warning: {len(result.errors)} file(s) could not be read; "
            "the snapshot is incomplete\n"
        )
        return exitcodes.INCOMPLETE
    return 0
