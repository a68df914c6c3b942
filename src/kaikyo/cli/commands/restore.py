"""kaikyo restore SNAPSHOT[:PATH] --target DIR."""

from __future__ import annotations

import argparse
import os
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console, show_path
from kaikyo.cli.progress import MeterView
from kaikyo.cli.restorefilters import add_filter_args
from kaikyo.cli.session import repository
from kaikyo.core.ids import short
from kaikyo.errors import UsageError

# restore --overwrite MODE; the same names as kaikyo.snapshot.restore.existing (not imported
# here: the engine loads after the key, see cli/session.py).
OVERWRITE_MODES = ("always", "if-changed", "if-newer", "never")
# Status lines by phase: files_compared, then files_restored and bytes_restored (restic's
# names), then files_verified.
_WORDS = {"comparing": "compared", "restoring": "restored", "verifying": "verified"}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "restore",
        help="restore a snapshot",
        description="Write a snapshot, or a directory or file of it (SNAPSHOT:PATH), into "
        "the target directory with its modes, owners, times, extended attributes, links and "
        "special files. Files are written under temporary names and put in place once "
        "complete; an interrupted restore resumes when run again with the same arguments.",
        epilog="""examples:
  kaikyo restore latest --target /tmp/restore
  kaikyo restore latest:/home/alice --target /home/alice.restored --verify
  kaikyo restore 4f3c2a1b --target /srv --include '/srv/www/**' --exclude '*.log'""",
    )
    p.add_argument(
        "snapshot",
        nargs="?",
        help="SNAPSHOT or SNAPSHOT:PATH (id, prefix or 'latest'); "
        "with :PATH the contents of PATH are restored into the target",
    )
    p.add_argument("-t", "--target", required=True, metavar="DIR", help="directory to restore into")
    add_filter_args(p)
    p.add_argument(
        "--overwrite",
        nargs="?",
        const="always",
        metavar="MODE",
        help="restore onto a target that holds a tree (without it the target must be empty). "
        "MODE (restic's): always (the default: every existing file compared by content, only "
        "the chunks that differ downloaded and written), if-changed (a file with the "
        "snapshot's size and mtime is taken as unchanged unread), if-newer (an entry with "
        "the snapshot's mtime or a later one is left), never (existing entries are left)",
    )
    p.add_argument(
        "--delete",
        action="store_true",
        help="remove from the target what the snapshot does not have (within what "
        "--include/--exclude select); with --overwrite the target becomes the snapshot",
    )
    p.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="compare with the target and report what would be done; write nothing",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list each file restored, updated, unchanged, skipped or deleted",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="re-read every restored file and check it against the snapshot",
    )
    p.add_argument(
        "--numeric-owner",
        action="store_true",
        help="restore owners by uid/gid, not by user/group name",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def _tune_malloc() -> None:
    """Let restore's buffers come from the heap and be reused there.

    The entry point fixes glibc's mmap threshold at 2 MiB for backup. Restore's threads
    allocate a span read (up to ``READ_SPAN``) and one or two chunk-sized results per chunk; above
    the threshold each is a fresh mapping, faulted in page by page and unmapped again (with a
    TLB shootdown across the threads): measured on a 2 GiB image with a 128 KiB threshold,
    2.7 s instead of 1.7 s. Above ``2 * READ_SPAN`` allocations are still mapped apart; the heap
    gives back free space over twice that. Costs about 10 MiB of reused heap.
    """
    from kaikyo.repo import READ_SPAN

    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 2 * READ_SPAN)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 4 * READ_SPAN)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc


def _overwrite_and_snapshot(args: argparse.Namespace) -> None:
    """Read ``--overwrite latest -t DIR`` as restic's users mean it.

    MODE is optional, so argparse hands a snapshot written right after a bare
    ``--overwrite`` to the flag; a value that is not a mode is taken back as the snapshot.
    """
    mode = args.overwrite
    if mode is None or mode in OVERWRITE_MODES:
        pass
    elif args.snapshot is None and mode:
        args.snapshot, args.overwrite = mode, "always"
    else:
        raise UsageError(
            f"--overwrite {mode!r}: MODE is one of {', '.join(OVERWRITE_MODES)} "
            "(always when omitted)"
        )
    if not args.snapshot:
        raise UsageError("no snapshot given: name one (an id, a prefix or 'latest')")


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    _overwrite_and_snapshot(args)
    ref, _, sub = args.snapshot.partition(":")
    if not ref:
        raise UsageError("no snapshot given: name one (an id, a prefix or 'latest')")
    with repository(args, ctx, "read") as repo:
        # Imported once the key is open: see cli/session.py.
        from kaikyo.snapshot import RestoreOptions, run_restore
        from kaikyo.snapshot.progress import Meter

        _tune_malloc()  # after the index is loaded: its buffers are better mapped apart
        snap = repo.find_snapshot(ref)
        opts = RestoreOptions(
            target=os.fsencode(os.path.abspath(args.target)),
            include=tuple(args.include),
            exclude=tuple(args.exclude),
            iinclude=tuple(args.iinclude),
            iexclude=tuple(args.iexclude),
            overwrite=args.overwrite,
            delete=args.delete,
            dry_run=args.dry_run,
            verbose=args.verbose,
            verify=args.verify and not args.dry_run,
            workers=config.worker_count(ctx),
            numeric_owner=args.numeric_owner,
            meter=Meter(),
        )
        with MeterView(ctx, opts.meter, args.json, _WORDS):
            result = run_restore(repo, snap.doc["tree"], (sub or "/").encode(), opts)
    for w in result.warnings:
        ctx.stderr.write(f"kaikyo: warning: {w}\n")
    if args.json:
        _json(ctx, args, snap.snapshot_id, result)
    else:
        _human(ctx, args, snap.snapshot_id, result)
    return 0


def _json(ctx: CliContext, args: argparse.Namespace, snapshot_id: str, result: Any) -> None:
    for action, path in result.listing:
        emit_json(
            ctx, {"message_type": "verbose_status", "action": action, "item": show_path(path)}
        )
    emit_json(
        ctx,
        {
            "message_type": "summary",
            "snapshot_id": snapshot_id,
            "target": args.target,
            "dry_run": result.dry_run,
            "files": result.files,
            "dirs": result.dirs,
            "links": result.links,
            "other": result.other,
            "bytes": result.bytes,
            "files_restored": result.new,
            "files_updated": result.updated,
            "files_unchanged": result.unchanged,
            "files_skipped": result.skipped,
            "files_deleted": result.deleted,
            "bytes_downloaded": result.bytes_downloaded,
            "bytes_written": result.bytes,
            "bytes_to_write": result.bytes_to_write,
            "verified": result.verified,
            "warnings": result.warnings,
            "resumed": result.resumed,
            "files_kept": result.kept,
        },
    )


def _human(ctx: CliContext, args: argparse.Namespace, snapshot_id: str, result: Any) -> None:
    out = out_console(ctx)
    for action, path in result.listing:
        out.print(f"{action:<9} {show_path(path)}", markup=False, highlight=False)
    if result.resumed:
        out.print(
            f"resumed an interrupted restore: {result.kept} files were "
            "already restored and were kept"
        )
    fates = (
        f"{result.new} restored, {result.updated} updated, {result.unchanged} unchanged, "
        f"{result.skipped} skipped, {result.deleted} deleted"
    )
    if result.dry_run:
        out.print(
            f"would restore snapshot {short(snapshot_id)} to {args.target}: {fates}; "
            f"would download {human_bytes(result.bytes_downloaded)} and write "
            f"at most {human_bytes(result.bytes_to_write)} (nothing was written)"
        )
        return
    onto = f" ({fates})" if args.overwrite or args.delete else ""
    out.print(
        f"restored snapshot {short(snapshot_id)} to {args.target}: {result.files} files, "
        f"{result.dirs} dirs, {human_bytes(result.bytes)}{onto}"
        + (f"; verified {result.verified} files" if args.verify else "")
    )
