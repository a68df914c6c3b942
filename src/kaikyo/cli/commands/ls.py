"""kaikyo ls SNAPSHOT [PATH]: list the files in a snapshot."""

from __future__ import annotations

import argparse
import os
import stat
from typing import TYPE_CHECKING, Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, show_path, show_time
from kaikyo.cli.session import repository

if TYPE_CHECKING:
    from kaikyo.core.format.tree import TreeNode


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "ls",
        help="list files in a snapshot",
        description="List the entries under a directory of a snapshot (default: its root), "
        "recursively; --long adds mode, owner, size and time.",
        epilog="""examples:
  kaikyo ls latest
  kaikyo ls 4f3c2a1b /etc --long
  kaikyo ls latest /home/alice --json""",
    )
    p.add_argument("snapshot", help="snapshot id, prefix, or 'latest'")
    p.add_argument("path", nargs="?", default="/", help="directory inside the snapshot")
    p.add_argument("-l", "--long", action="store_true", help="show mode, owner, size, time")
    config.add_repo_args(p)
    p.set_defaults(func=run)


_KIND_LETTERS = {
    "dir": "d",
    "symlink": "l",
    "fifo": "p",
    "chardev": "c",
    "blockdev": "b",
    "socket": "s",
}


def describe(node: TreeNode) -> str:
    """``ls -l``'s first column: the kind's letter and the permission bits."""
    return _KIND_LETTERS.get(node.type.value, "-") + stat.filemode(node.mode or 0)[1:]


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read") as repo:
        from kaikyo.snapshot import trees  # the engine, once the key is open

        snap = repo.find_snapshot(args.snapshot)
        base, node, tree = trees.resolve(repo, snap.doc["tree"], os.fsencode(args.path))
        if node is not None and tree is None:
            items = [(base, node)]
        else:
            below = snap.doc["tree"] if tree is None else tree
            items = list(trees.walk(repo, below, base if node is not None else b""))
        if args.json:
            emit_json(
                ctx,
                [
                    {
                        "path": show_path(p),
                        "type": n.type.value,
                        "size": n.size,
                        "mode": n.mode,
                        "mtime": n.mtime,
                        "uid": n.uid,
                        "gid": n.gid,
                    }
                    for p, n in items
                ],
            )
            return 0
        zone = config.time_zone(args, ctx)
        for path, n in items:
            if args.long:
                when = show_time((n.mtime or 0) / 1e9, zone)
                ctx.stdout.write(
                    f"{describe(n)} {n.uid if n.user is None else n.user}/"
                    f"{n.gid if n.group is None else n.group} {n.size or 0:>12} "
                    f"{when} {show_path(path)}\n"
                )
            else:
                ctx.stdout.write(show_path(path) + "\n")
    return 0
