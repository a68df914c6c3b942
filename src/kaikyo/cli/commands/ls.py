"""kaikyo ls SNAPSHOT [PATH]: list the files in a snapshot."""

from __future__ import annotations

import argparse
import stat
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, show_path
from kaikyo.cli.session import repository


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("ls", help="list files in a snapshot")
    p.add_argument("snapshot", help="snapshot id, prefix, or 'latest'")
    p.add_argument("path", nargs="?", default="/", help="directory inside the snapshot")
    p.add_argument("-l", "--long", action="store_true", help="show mode, owner, size, time")
    config.add_repo_args(p)
    p.set_defaults(func=run)


def describe(node: dict[str, Any]) -> str:
    kinds = {
        "dir": "d",
        "symlink": "l",
        "fifo": "p",
        "chardev": "c",
        "blockdev": "b",
        "socket": "s",
    }
    return kinds.get(node.get("type", ""), "-") + stat.filemode(int(node.get("mode", 0)))[1:]


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read") as repo:
        from kaikyo.snapshot import trees  # the engine, once the key is open

        snap = repo.find_snapshot(args.snapshot)
        base, node, tree = trees.resolve(repo, snap.doc["tree"], args.path.encode())
        items = [] if tree or node is None else [(base, node)]
        if tree or node is None:
            items = list(
                trees.walk(repo, tree or snap.doc["tree"], base if node is not None else b"")
            )
        if args.json:
            emit_json(
                ctx,
                [
                    {
                        "path": show_path(p),
                        "type": n.get("type"),
                        "size": n.get("size"),
                        "mode": n.get("mode"),
                        "mtime": n.get("mtime"),
                        "uid": n.get("uid"),
                        "gid": n.get("gid"),
                    }
                    for p, n in items
                ],
            )
            return 0
        for path, n in items:
            if args.long:
                ctx.stdout.write(
                    f"{describe(n)} {n.get('user', n.get('uid'))}/"
                    f"{n.get('group', n.get('gid'))} {n.get('size', 0):>12} "
                    f"{show_path(path)}\n"
                )
            else:
                ctx.stdout.write(show_path(path) + "\n")
    return 0
