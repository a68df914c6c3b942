"""kaikyo init: create a repository and print its recovery key once."""

from __future__ import annotations

import argparse
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, err_console, out_console
from kaikyo.core.ids import short
from kaikyo.repo.slots import ensure_absent, new_keys


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "init",
        help="create a new repository",
        description="Create an empty repository at -r/--repo (a directory, or a repository "
        "name at a haven) with one key slot for the passphrase, and print the recovery key "
        "once: keep it somewhere else, it opens the repository if the passphrase is lost.",
        epilog="""examples:
  kaikyo -r /srv/backup/repo init
  KAIKYO_PASSWORD_FILE=~/.kaikyo-pass kaikyo -r /srv/backup/repo init --json
  KAIKYO_TOKEN=kk_... kaikyo -r https://haven:8720/acme/main init""",
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    store = config.store_for(args, ctx, create=True)
    try:
        pw = config.password(args, ctx, confirm=True)
        ensure_absent(store)
        # Argon2id before the engine's imports, as for every command (see cli/session.py).
        keys = new_keys(pw, meta={"created": ctx.clock.now()})
        from kaikyo.repo import Repository

        repo, recovery = Repository.create(store, pw, keys=keys)
    finally:
        store.close()
    if args.json:
        emit_json(
            ctx, {"repository": store.url, "id": repo.config.repo_id, "recovery_key": recovery}
        )
        return 0
    out = out_console(ctx)
    out.print(f"created repository {short(repo.config.repo_id)} at {store.url}")
    err_console(ctx).print(
        "[bold]Recovery key[/bold] (shown once; store it offline, it opens the repository "
        "if every passphrase is lost):",
        markup=True,
    )
    out.print(recovery)
    return 0
