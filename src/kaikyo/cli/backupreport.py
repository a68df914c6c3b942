"""What backup tells: the files as they are done (``-v``, ``-vv``) and the summary.

restic's words and levels: a file is ``new``, ``modified`` or ``unchanged``; with ``--json``
and ``-v`` each file is one ``verbose_status`` line (``action``, ``item``) before the
summary, as restic prints them. In text, ``-v`` lists the files that are (or, with
``--dry-run``, would be) saved, ``-vv`` the unchanged ones too (restic lists all three only
at ``-vv``). Directories are not listed. The summary is one JSON document (with
``message_type: summary``) or a few lines.
"""

from __future__ import annotations

import argparse
import json
import threading
from typing import TYPE_CHECKING

from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console, show_path
from kaikyo.cli.progress import BackupBar, BackupMeter, StatusLines
from kaikyo.core.ids import short

if TYPE_CHECKING:
    from kaikyo.snapshot import BackupResult
    from kaikyo.snapshot.scan import Scanner
    from kaikyo.snapshot.tally import FileStatus


class FileLister:
    """A backup's progress (:class:`kaikyo.snapshot.tally.BackupProgress`): the bar, and the
    files as they are done at ``verbose`` 1 and up."""

    def __init__(
        self, ctx: CliContext, verbose: int, as_json: bool, scanner: Scanner | None = None
    ) -> None:
        self._ctx = ctx
        self._verbose = verbose
        self._json = as_json
        self.scanner = scanner
        self.meter = BackupMeter(scanner)
        # A live bar would tear the lines apart: with -v, the lines are the progress.
        self.bar = BackupBar(ctx, enabled=not as_json and not verbose, meter=self.meter)
        self._lock = threading.Lock()  # the status thread and the file lines share stdout
        self.status = StatusLines(ctx, self.meter, self._lock) if as_json else None

    def __enter__(self) -> FileLister:
        if self.scanner is not None:
            self.scanner.start()
        self.bar.__enter__()
        if self.status is not None:
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.scanner is not None:
            self.scanner.stop()
        if self.status is not None:
            self.status.finish()
        self.bar.__exit__(None, None, None)

    def file_done(self, path: bytes, size: int, status: FileStatus) -> None:
        self.meter.file_done(size)
        self.bar.file_done(path, size, status)
        if not self._verbose:
            return
        out = self._ctx.stdout
        if self._json:
            line = {
                "message_type": "verbose_status",
                "action": status,
                "item": show_path(path),
                "size": size,
            }
            with self._lock:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        elif status != "unchanged" or self._verbose > 1:
            out.write(f"{status:<9} {show_path(path)}\n")

    def bytes_read(self, n: int) -> None:
        self.meter.bytes_read(n)
        self.bar.refresh()

    def error(self, path: bytes, message: str) -> None:
        self.bar.error(path, message)


def report(
    ctx: CliContext, args: argparse.Namespace, result: BackupResult, previous: str | None
) -> None:
    """The summary; ``previous``: the snapshot a skipped one would have repeated."""
    if args.json:
        emit_json(
            ctx,
            {
                "message_type": "summary",
                "snapshot_id": result.snapshot_id,
                "dry_run": args.dry_run,
                "skipped": result.skipped,
                "summary": result.summary,
                "errors": result.errors,
                "warnings": result.warnings,
                "adopted_packs": result.adopted_packs,
                "cache_problem": result.cache_problem,
            },
        )
        return
    _warn(ctx, result)
    s = result.summary
    out = out_console(ctx)
    out.print(
        f"files: {s['files_new']} new, {s['files_changed']} changed, "
        f"{s['files_unmodified']} unmodified; dirs: {s['dirs']}"
    )
    if args.dry_run:
        out.print(
            f"would add {human_bytes(s['data_added'])} of {human_bytes(s['bytes_total'])} processed"
        )
        out.print("dry run: nothing was stored")
        return
    out.print(
        f"added {human_bytes(s['data_added'])} "
        f"(stored {human_bytes(s['data_stored'])}) of "
        f"{human_bytes(s['bytes_total'])} processed"
    )
    if result.adopted_packs:
        out.print(f"resumed: reused {result.adopted_packs} pack(s) left by an interrupted backup")
    if result.snapshot_id:
        out.print(f"snapshot {short(result.snapshot_id)} saved")
    elif result.skipped:
        since = f" since snapshot {short(previous)}" if previous else ""
        out.print(f"skipped creating snapshot: nothing changed{since}")


def _warn(ctx: CliContext, result: BackupResult) -> None:
    for err in result.errors:
        ctx.stderr.write(f"kaikyo: warning: {err['path']}: {err['error']}\n")
    for w in result.warnings:
        ctx.stderr.write(f"kaikyo: warning: {w['path']}: {w['warning']}\n")
    if result.cache_problem:
        ctx.stderr.write(
            f"kaikyo: warning: the files cache was not saved "
            f"({result.cache_problem}); the next backup reads every file "
            f"again (set KAIKYO_CACHE_DIR to a writable directory)\n"
        )
