"""Open a repository for a command in the mode it needs: read, shared lock or exclusive lock."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.repo import Repository, acquire_lock

Mode = Literal["read", "shared", "exclusive"]


@contextmanager
def repository(args: argparse.Namespace, ctx: CliContext, mode: Mode = "read",
               load_index: bool = True) -> Iterator[Repository]:
    store = config.store_for(args, ctx)
    try:
        repo = Repository.open(store, config.password(args, ctx))
        if mode == "read":
            if load_index:
                repo.load_index()
            yield repo
            return
        with acquire_lock(repo, ctx.clock, exclusive=mode == "exclusive") as lock:
            for info in lock.stale:
                ctx.stderr.write(f"kaikyo: warning: ignoring a stale {info.describe()} "
                                 "(remove it with 'kaikyo unlock')\n")
            if load_index:
                repo.load_index()
            yield repo
    finally:
        store.close()
