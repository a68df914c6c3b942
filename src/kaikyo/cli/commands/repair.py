"""kaikyo repair index|snapshots: rebuild the index from the packs, or remove snapshot
objects that do not authenticate."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console
from kaikyo.cli.session import repository
from kaikyo.errors import PermissionDeniedError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "repair",
        help="rebuild a lost or damaged index, or remove unreadable snapshots",
        description="'repair index' rebuilds every index file from the pack headers (index "
        "files that do not authenticate, or name packs that are gone, are replaced). 'repair "
        "snapshots' removes snapshot objects that do not authenticate (planted, damaged, or "
        "written with another key), after keeping a copy of each in --quarantine (default: "
        "the cache directory); at a haven, a removed object also stays in the tenant's trash "
        "for the grace period.",
        epilog="""examples:
  kaikyo repair index
  kaikyo repair snapshots --dry-run
  kaikyo repair snapshots --quarantine /root/kaikyo-quarantine --json""",
    )
    p.add_argument(
        "what",
        nargs="?",
        default="index",
        choices=["index", "snapshots"],
        help="what to repair: index (default) or snapshots",
    )
    p.add_argument(
        "-n", "--dry-run", action="store_true", help="snapshots: only list what would be removed"
    )
    p.add_argument(
        "--quarantine", metavar="DIR", help="snapshots: keep a copy of each removed object here"
    )
    config.add_repo_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.what == "snapshots":
        return _snapshots(args, ctx)
    with repository(args, ctx, "exclusive", load_index=False, write=True) as repo:
        from kaikyo.snapshot.prune import rebuild_index  # the engine, once the key is open

        packs, problems = rebuild_index(repo)
    for p in problems:
        ctx.stderr.write(f"kaikyo: warning: {p} (left out; 'kaikyo prune' removes it)\n")
    if args.json:
        emit_json(ctx, {"packs_indexed": packs, "problems": problems})
    else:
        out_console(ctx).print(f"index rebuilt from {packs} packs")
    return 0


def _snapshots(args: argparse.Namespace, ctx: CliContext) -> int:
    from kaikyo.core.constants import SNAPSHOT_PREFIX

    removed: list[str] = []
    refused: list[str] = []
    with repository(args, ctx, "exclusive", load_index=False, write=True) as repo:
        repo.list_snapshots()
        bad = repo.bad.of_kind(SNAPSHOT_PREFIX)
        where = (
            Path(args.quarantine)
            if args.quarantine
            else (config.cache_dir(ctx) / "quarantine" / repo.config.repo_id)
        )
        for item in bad:
            if args.dry_run:
                removed.append(item.name)
                continue
            try:
                _keep_copy(repo.store.get(item.name), where, item.name)
                repo.store.delete(item.name)
            except PermissionDeniedError as exc:
                refused.append(f"{item.name}: {exc.message}")
                continue
            repo.bad.forget(item.name)
            removed.append(item.name)
    for line in refused:
        ctx.stderr.write(f"kaikyo: warning: could not remove {line}\n")
    if args.json:
        emit_json(
            ctx,
            {
                "removed": removed,
                "refused": refused,
                "dry_run": args.dry_run,
                "quarantine": None if args.dry_run else str(where),
            },
        )
    else:
        out = out_console(ctx)
        verb = "would remove" if args.dry_run else "removed"
        for name in removed:
            out.print(f"{verb} {name}")
        out.print(
            f"{verb} {len(removed)} unreadable snapshot object(s)"
            + (f"; copies kept in {where}" if removed and not args.dry_run else "")
        )
    if refused:
        raise PermissionDeniedError(
            f"{len(refused)} snapshot object(s) could not be removed",
            "removing objects at a haven needs an admin token",
        )
    return 0


def _keep_copy(raw: bytes, where: Path, name: str) -> None:
    """Write the object's bytes under ``where`` before it is removed (a snapshot that does
    not authenticate may still be someone's: it is never destroyed unseen)."""
    try:
        where.mkdir(parents=True, exist_ok=True)
        target = where / name.replace("/", "-")
        with open(target, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise PermissionDeniedError(
            f"cannot keep a copy in {where}: {exc.strerror}",
            "pass --quarantine DIR with a writable directory",
        ) from None
