"""kaikyo copy --from-repo SRC [SNAPSHOT...]: snapshots of another repository into this one.

restic's ``copy``: e.g. a fast repository at the customer's site copied to the haven. The
destination is ``-r`` / ``KAIKYO_REPOSITORY`` (opened with the lock a backup takes); the
source is ``--from-repo`` / ``KAIKYO_FROM_REPOSITORY``, with its own passphrase and token,
opened read-only under a shared lock (so a prune of the source waits). The engine is
:mod:`kaikyo.snapshot.copy`.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console, rfc3339
from kaikyo.cli.progress import MeterView
from kaikyo.cli.selection import add_filter_args, select
from kaikyo.cli.session import repository
from kaikyo.core.ids import short
from kaikyo.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from kaikyo.repo import Repository, SnapshotRecord
    from kaikyo.snapshot import CopyResult, SnapshotCopy
    from kaikyo.snapshot.progress import Meter


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "copy",
        help="copy snapshots from another repository into this one",
        description="Copy snapshots of the repository --from-repo names into the repository "
        "-r names, as restic's copy: blobs the destination holds are not sent, snapshots it "
        "has copies of are skipped (restic's rule, and a copy retagged in the destination "
        "stays a copy), an interrupted copy resumes. The source is read under a shared "
        "lock. Blob ids are keyed, so every blob copied is read and named anew; a later "
        "copy walks the last one and reads only what changed. Chunks are not cut again: "
        "deduplication against the destination's own backups works where both were cut with "
        "the same chunker parameters. Unlike restic, the source haven's token comes from a "
        "file or KAIKYO_FROM_TOKEN, never the command line.",
        epilog="""examples:
  kaikyo copy --from-repo /srv/backup/repo -r https://haven:8720/tokyo-corp/main
  KAIKYO_FROM_PASSWORD_FILE=~/.site-pass kaikyo copy --from-repo /srv/backup/repo latest
  kaikyo copy --from-repo /srv/backup/repo --host db1 --tag nightly --json
  KAIKYO_FROM_TOKEN=... kaikyo copy --from-repo https://haven:8720/acme/main -r /mnt/usb/repo""",
    )
    p.add_argument(
        "snapshots",
        nargs="*",
        metavar="SNAPSHOT",
        help="source snapshot ids or 'latest' (of those the filters select); default: every "
        "snapshot the filters select",
    )
    add_filter_args(p, paths=True)
    config.add_from_repo_args(p)
    config.add_repo_args(p)
    p.set_defaults(func=run)


def _location(url: str) -> str:
    """A repository's location, comparable: a local path resolved, a URL as given."""
    if "://" not in url or url.startswith("file://"):
        return os.path.realpath(url.removeprefix("file://"))
    return url.rstrip("/")


def _chosen(src: Repository, args: argparse.Namespace) -> list[SnapshotRecord]:
    """The source snapshots to copy: those named (``latest`` among those the filters
    select), else every one the filters select, oldest first."""
    records = src.list_snapshots()
    selected = select(records, args)
    if not args.snapshots:
        return selected
    chosen: dict[str, SnapshotRecord] = {}
    for ref in args.snapshots:
        try:
            record = src.find_snapshot(ref, selected if ref == "latest" else records)
        except NotFoundError as exc:
            raise NotFoundError(
                f"source repository: {exc.message}",
                "list the source's snapshots with 'kaikyo snapshots -r SRC'",
            ) from None
        chosen[record.snapshot_id] = record
    return sorted(chosen.values(), key=lambda r: (r.time, r.snapshot_id))


class _Counts:
    """What the translator reports, into the meter: blobs and bytes read from the source."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def blobs_read(self, count: int, nbytes: int) -> None:
        self.meter.add(blobs=count, bytes=nbytes)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    source_url, dest_url = config.from_repo_url(args, ctx), config.repo_url(args, ctx)
    if _location(source_url) == _location(dest_url):
        raise UsageError(
            f"the source and the destination are the same repository ({source_url})",
            "--from-repo names the repository to copy from, -r the one to copy into",
        )
    with repository(args, ctx, "shared", source=True) as src:
        chosen = _chosen(src, args)  # before the destination is locked: a typo costs nothing
        with repository(args, ctx, "shared", write=True) as dst:
            if dst.config.repo_id == src.config.repo_id:
                raise UsageError(
                    f"the source and the destination are the same repository "
                    f"(id {short(src.config.repo_id)}, at {source_url} and {dest_url})",
                    "copy into another repository",
                )
            from kaikyo.snapshot import run_copy  # the engine, once both keys are open
            from kaikyo.snapshot.progress import Meter

            meter = Meter()
            meter.phase("copying", ("blobs", "bytes"), snapshots=len(chosen))

            def done(item: SnapshotCopy) -> None:
                meter.add(snapshots=1)
                _report_snapshot(args, ctx, item)

            with MeterView(ctx, meter, args.json):
                result = run_copy(src, dst, chosen, on_snapshot=done, progress=_Counts(meter))
    _report_summary(args, ctx, result)
    return 0


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _report_snapshot(args: argparse.Namespace, ctx: CliContext, item: SnapshotCopy) -> None:
    doc = item.source.doc
    if args.json:
        emit_json(
            ctx,
            {
                "message_type": "snapshot",
                "action": "copied" if item.copied else "skipped",
                "source": item.source.snapshot_id,
                "snapshot": item.snapshot,
                "time": rfc3339(doc.get("time")),
                "hostname": doc.get("hostname", ""),
                "paths": doc.get("paths", []),
                "tags": doc.get("tags", []),
                **item.counts,
            },
        )
        return
    what = f"{_when(item.source.time)} {doc.get('hostname', '')} {', '.join(doc.get('paths', []))}"
    src, dst = short(item.source.snapshot_id), short(item.snapshot)
    if item.copied:
        c = item.counts
        line = (
            f"copied {src} -> {dst} ({what}): read {human_bytes(c['bytes_read'])}, "
            f"sent {human_bytes(c['bytes_sent'])}"
        )
        if c["bytes_deduplicated"]:
            line += f" ({human_bytes(c['bytes_deduplicated'])} deduplicated)"
    else:
        line = f"skipped {src} ({what}): already copied as {dst}"
    out_console(ctx).print(line)


def _report_summary(args: argparse.Namespace, ctx: CliContext, result: CopyResult) -> None:
    t = result.totals()
    if args.json:
        emit_json(ctx, {"message_type": "summary", **t})
        return
    out = out_console(ctx)
    if not result.snapshots:
        out.print("no snapshots to copy")
    out.print(
        f"copied {t['snapshots_copied']} snapshot(s), skipped {t['snapshots_skipped']}; "
        f"sent {t['blobs_sent']} blob(s), {human_bytes(t['bytes_sent'])}; "
        f"{human_bytes(t['bytes_deduplicated'])} deduplicated"
    )
    if result.adopted_packs:
        out.print(f"resumed: reused {result.adopted_packs} pack(s) left by an interrupted writer")
