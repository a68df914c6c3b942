"""Open a repository for a command in the mode it needs: read, shared lock or exclusive lock."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.repo.slots import unlock

if TYPE_CHECKING:
    from kaikyo.repo import Repository

Mode = Literal["read", "shared", "exclusive"]


@contextmanager
def repository(args: argparse.Namespace, ctx: CliContext, mode: Mode = "read",
               load_index: bool = True) -> Iterator[Repository]:
    store = config.store_for(args, ctx)
    try:
        # The key first, the engine's imports after: Argon2id's 48 MiB are freed before NumPy
        # and the codecs load (a restore's peak: 112 -> see the closing note of issue 2).
        master, slot = unlock(store, config.password(args, ctx))
        from kaikyo.repo import Repository, acquire_lock

        repo = Repository.open_with_key(store, master, slot)
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
