"""kaikyo dump SNAPSHOT[:SUBFOLDER] PATH: a file's bytes, or a directory as a tar or zip
archive, on stdout or into a file (as restic's dump).

Archive entries are named from the snapshot's root, without the leading '/' (``dump latest
/home/alice`` holds ``home/alice/...``), or from SUBFOLDER's (``dump latest:/home/alice /``
holds alice's files at the archive's root), as restic names them.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes, out_console, show_path
from kaikyo.cli.session import repository
from kaikyo.core.ids import short
from kaikyo.errors import (
    IntegrityError,
    NoSpaceError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)

if TYPE_CHECKING:
    from kaikyo.repo import Repository, SnapshotRecord

ARCHIVES = ("tar", "zip")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "dump",
        help="write a file, or a directory as a tar or zip archive, to stdout",
        description="Write one file of a snapshot as it was, or a directory as a tar "
        "(default) or zip archive, to standard output or into --target FILE (written under "
        "a temporary name and put in place once complete). Streamed chunk by chunk: memory "
        "does not grow with the size of the file.",
        epilog="""examples:
  kaikyo dump latest /etc/hosts
  kaikyo dump latest:/home/alice /projects > projects.tar
  kaikyo dump 4f3c2a1b /srv/www --archive zip --target www.zip
  kaikyo dump latest --host db1 --tag nightly /var/backups/db.sql | psql mydb""",
    )
    p.add_argument(
        "snapshot",
        help="snapshot id, prefix or 'latest'; SNAPSHOT:SUBFOLDER names archive entries "
        "from SUBFOLDER, not from the snapshot's root",
    )
    p.add_argument("path", help="file or directory inside the snapshot ('/' for all of it)")
    p.add_argument(
        "-a", "--archive", choices=ARCHIVES, default="tar", help="format of a directory's dump"
    )
    p.add_argument("-t", "--target", metavar="FILE", help="write to FILE (replaced once complete)")
    p.add_argument("--host", metavar="HOST", help="with 'latest': the latest snapshot of this host")
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="with 'latest': the latest with this tag (repeatable)",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def _parts(raw: bytes) -> list[bytes]:
    return [p for p in raw.split(b"/") if p and p != b"."]


def _snapshot(repo: Repository, ref: str, args: argparse.Namespace) -> SnapshotRecord:
    """``ref``; ``latest`` among the snapshots ``--host`` and ``--tag`` select (as
    ``kaikyo snapshots`` selects them)."""
    if ref != "latest" or not (args.host or args.tag):
        return repo.find_snapshot(ref)
    records = [
        r
        for r in repo.list_snapshots()
        if (not args.host or r.doc.get("hostname") == args.host)
        and (not args.tag or set(args.tag) & set(r.doc.get("tags", [])))
    ]
    if not records:
        raise NotFoundError(
            "no snapshot matches the --host and --tag given", "list them with 'kaikyo snapshots'"
        )
    return repo.find_snapshot("latest", records)


def _target_error(exc: OSError, target: str) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpaceError(f"no space left on the device while writing {target}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDeniedError(f"permission denied writing {target}")
    if exc.errno == errno.ENOENT:
        return NotFoundError(f"the directory of {target} does not exist")
    return exc


@contextlib.contextmanager
def _target_file(target: str) -> Iterator[BinaryIO]:
    """A file written under a temporary name beside ``target`` and renamed over it once it
    is complete and synced: on any error (Ctrl-C too) the temporary file is removed and
    ``target`` is as it was."""
    full = os.path.abspath(target)
    if os.path.isdir(full):
        raise UsageError(f"--target {target} is a directory", "name the file to write")
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(full)}.", suffix=".kaikyo-tmp", dir=os.path.dirname(full)
        )
    except OSError as exc:
        raise _target_error(exc, target) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fh.fileno(), 0o666 & ~umask)  # as a file created by open(2)
            os.fsync(fh.fileno())
        os.replace(tmp, full)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _target_error(exc, target) from None
        raise


@contextlib.contextmanager
def _stdout(ctx: CliContext) -> Iterator[BinaryIO]:
    ctx.stdout.flush()
    yield ctx.stdout.buffer
    ctx.stdout.buffer.flush()


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    ref, _, sub = args.snapshot.partition(":")
    if not ref:
        raise UsageError("no snapshot given")
    if args.json and not args.target:
        raise UsageError(
            "--json needs --target: without it, stdout carries the dump itself",
            "add --target FILE, or leave out --json",
        )
    with repository(args, ctx, "read") as repo:
        from kaikyo.snapshot import dump_archive, dump_file, trees  # once the key is open

        snap = _snapshot(repo, ref, args)
        below = _parts(os.fsencode(args.path))
        full = b"/" + b"/".join(_parts(os.fsencode(sub)) + below)
        path, node, tree = trees.resolve(repo, snap.doc["tree"], full)
        shown = show_path(path)
        is_dir = node is None or node.is_dir
        if node is not None and not is_dir and node.type.value != "file":
            raise UsageError(
                f"{shown} is a {node.type.value}, not a file or a directory",
                "dump a regular file, or the directory that holds it",
            )
        if is_dir and not args.target and ctx.stdout.isatty():
            raise UsageError(
                f"stdout is a terminal: {shown} is a directory and would be written to it "
                f"as a {args.archive} archive",
                "redirect stdout to a file or a pipe, or use --target FILE",
            )
        with _target_file(args.target) if args.target else _stdout(ctx) as sink:
            if not is_dir:
                assert node is not None
                result = dump_file(repo, node, sink, shown)
            elif tree is None:
                raise IntegrityError(f"{shown}: a directory without its tree")
            else:
                prefix = b"".join(b"/" + p for p in below)
                result = dump_archive(repo, tree, prefix, sink, args.archive)
    for w in result.warnings:
        ctx.stderr.write(f"kaikyo: warning: {w}\n")
    if args.json:
        emit_json(
            ctx,
            {
                "snapshot_id": snap.snapshot_id,
                "path": shown,
                "target": args.target,
                "format": args.archive if is_dir else "file",
                "bytes": result.bytes,
                "entries": result.entries,
                "warnings": result.warnings,
            },
        )
    elif args.target:
        what = f"a {args.archive} archive of {result.entries} entries" if is_dir else "the file"
        out_console(ctx).print(
            f"dumped {shown} of snapshot {short(snap.snapshot_id)} to {args.target}: "
            f"{what}, {human_bytes(result.bytes)}"
        )
    return 0
