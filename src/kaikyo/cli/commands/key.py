"""kaikyo key list|add|remove|passwd: manage the passphrases that open the repository."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console, show_time
from kaikyo.cli.session import repository
from kaikyo.core.ids import short


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "key",
        help="manage passphrases (key slots)",
        description="Each key slot holds the repository's master key, sealed with one "
        "passphrase: 'list' shows them (* marks the one in use), 'add' adds a slot for a new "
        "passphrase, 'remove ID' removes one (never the one in use), 'passwd' replaces the "
        "current passphrase (the new slot is written before the old one is removed).",
        epilog="""examples:
  kaikyo key list
  kaikyo key add --new-password-file ~/.kaikyo-pass-2
  kaikyo key remove 3a9f
  KAIKYO_NEW_PASSWORD=... kaikyo key passwd --json""",
    )
    p.add_argument(
        "action",
        choices=["list", "add", "remove", "passwd"],
        help="list, add, remove or passwd",
    )
    p.add_argument("key_id", nargs="?", help="key id (prefix) for remove")
    p.add_argument(
        "--new-password-file",
        metavar="FILE",
        help="new passphrase from a file (env KAIKYO_NEW_PASSWORD / KAIKYO_NEW_PASSWORD_FILE)",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with repository(args, ctx, "read", load_index=False, write=True) as repo:
        result: dict[str, Any]
        if args.action == "list":
            keys = repo.list_keys()
            if args.json:
                emit_json(ctx, [asdict(k) for k in keys])
            else:
                out = out_console(ctx)
                zone = config.time_zone(args, ctx)
                for k in keys:
                    mark = "*" if k.current else " "
                    when = show_time(k.created, zone) if k.created else "-"
                    out.print(
                        f"{mark} {short(k.key_id)}  {k.kind:10} {when}  {k.user}@{k.host}",
                        markup=False,
                        highlight=False,
                    )
            return 0
        if args.action == "add":
            kid = repo.add_key(config.new_password(args, ctx), meta={"created": ctx.clock.now()})
            result = {"added": kid}
        elif args.action == "remove":
            if not args.key_id:
                raise_usage()
            result = {"removed": repo.remove_key(args.key_id)}
        else:  # passwd: add the new slot first, so a crash never leaves no key
            kid = repo.add_key(config.new_password(args, ctx), meta={"created": ctx.clock.now()})
            old = repo.key_id
            repo.key_id = kid
            repo.remove_key(old)
            result = {"added": kid, "removed": old}
    if args.json:
        emit_json(ctx, result)
    else:
        out_console(ctx).print(", ".join(f"{k} key {short(v)}" for k, v in result.items()))
    return 0


def raise_usage() -> None:
    from kaikyo.errors import UsageError

    raise UsageError("key remove needs a key id", "see 'kaikyo key list'")
