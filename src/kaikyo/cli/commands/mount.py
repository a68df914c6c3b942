"""kaikyo mount MOUNTPOINT: the repository's snapshots as a read-only filesystem (FUSE), in
the foreground until Ctrl-C, SIGTERM or ``fusermount3 -u MOUNTPOINT`` (as restic's mount).

It holds a shared lock, as restic does (``--no-lock``: none), so a prune cannot take away
what is being read, and backups can still run; the snapshots they add appear within a minute.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json
from kaikyo.cli.selection import add_filter_args, select
from kaikyo.cli.session import repository
from kaikyo.errors import UsageError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "mount",
        help="mount the repository's snapshots as a read-only filesystem (FUSE)",
        description="Serve snapshots/, ids/, hosts/HOST/ and tags/TAG/ at MOUNTPOINT until "
        "Ctrl-C, SIGTERM or 'fusermount3 -u MOUNTPOINT'. Needs FUSE 3 (apt-get install fuse3; "
        "pip install 'kaikyo[mount]'). Differences from restic: no --snapshot-template or "
        "--path-template; ids/ also finds a longer prefix of an id than the short one it lists.",
        epilog="""examples:
  kaikyo mount /mnt/kaikyo
  kaikyo mount /mnt/kaikyo --host web1 --tag nightly
  kaikyo mount /mnt/kaikyo --allow-other --owner-root""",
    )
    p.add_argument("mountpoint", help="an empty directory")
    p.add_argument(
        "--allow-other",
        action="store_true",
        help="let other users read the mount (needs user_allow_other in /etc/fuse.conf "
        "unless root)",
    )
    p.add_argument(
        "--no-default-permissions",
        action="store_true",
        help="with --allow-other: let every user read every file, whatever its mode and owner "
        "(the kernel checks them by default)",
    )
    p.add_argument(
        "--owner-root", action="store_true", help="show every file and directory as root's"
    )
    p.add_argument("--no-lock", action="store_true", help="hold no lock on the repository")
    add_filter_args(p, paths=True)
    config.add_repo_args(p)
    p.set_defaults(func=run)


def check_mountpoint(given: str) -> str:
    """The absolute mount point, or UsageError unless it is an empty directory."""
    path = os.path.abspath(given)
    if not os.path.lexists(path):
        raise UsageError(f"mount point {given} does not exist", "create an empty directory")
    if not os.path.isdir(path):
        raise UsageError(f"mount point {given} is not a directory", "name an empty directory")
    try:
        entries = os.listdir(path)
    except OSError as exc:
        raise UsageError(
            f"mount point {given} cannot be read: {exc.strerror}",
            f"if a mount died there, unmount it: fusermount3 -u {path}",
        ) from None
    if entries:
        raise UsageError(f"mount point {given} is not empty", "name an empty directory")
    return path


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    mountpoint = check_mountpoint(args.mountpoint)
    from kaikyo.snapshot.mount import load_fuse  # FUSE before the passphrase: fail early

    library = config.fuse_library(ctx)
    load_fuse(library)

    def warn(message: str) -> None:
        ctx.stderr.write(f"kaikyo: warning: {message}\n")
        ctx.stderr.flush()

    with repository(args, ctx, "read" if args.no_lock else "shared") as repo:
        from kaikyo.snapshot.mount import Blobs, FuseOptions, MountOptions, SnapshotFS, serve

        options = MountOptions(os.getuid(), os.getgid(), owner_root=args.owner_root)
        fs = SnapshotFS(
            Blobs(repo), lambda: select(repo.list_snapshots(), args), ctx.clock, options, warn
        )

        def announce() -> None:
            count = len(fs.snapshot_ids())
            if args.json:
                emit_json(ctx, {"mounted": mountpoint, "snapshots": count, "pid": os.getpid()})
            else:
                ctx.stdout.write(
                    f"mounted {count} snapshot(s) at {mountpoint}; "
                    f"stop with Ctrl-C or 'fusermount3 -u {mountpoint}'\n"
                )
                ctx.stdout.flush()

        fs.on_ready = announce
        fuse = FuseOptions(
            allow_other=args.allow_other, default_permissions=not args.no_default_permissions
        )
        serve(fs, mountpoint, fuse, warn, library)
    ctx.stderr.write(f"kaikyo: unmounted {mountpoint}\n")
    return 0
