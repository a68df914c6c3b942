"""Open a repository for a command in the mode it needs: read, shared lock or exclusive lock.

A command that does not say it writes (``write=True``) gets its repository over a read-only
view of the store (:class:`kaikyo.store.ReadOnlyStore`): it cannot store, overwrite or delete
any object, whatever path its code takes.

Every object a command meets that does not authenticate (a planted or damaged snapshot, index
file, lock or key slot) is printed once on stderr as a warning that names it and the command
that removes it; the command goes on with the others.

``copy`` opens two repositories: its source (``source=True``: ``--from-repo`` and the
``KAIKYO_FROM_*`` settings) and the destination; what is said about the source says so.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.errors import RepositoryNotFoundError, WrongPasswordError
from kaikyo.repo.badobjects import BadObject, BadObjects
from kaikyo.repo.slots import unlock

if TYPE_CHECKING:
    from kaikyo.core.crypto.keys import MasterKey
    from kaikyo.repo import Repository
    from kaikyo.store import Store

Mode = Literal["read", "shared", "exclusive"]


def warn_bad(ctx: CliContext, whose: str = "") -> BadObjects:
    def report(bad: BadObject) -> None:
        ctx.stderr.write(f"kaikyo: warning: {whose}{bad.describe()}\n")

    return BadObjects(report)


def _slot_memo(ctx: CliContext, url: str) -> Path:
    """Where the name of the key slot that opened ``url`` last time is kept (a name, no
    secret): it is tried first, so planted or many slots cost no key derivations."""
    return config.cache_dir(ctx) / "slots" / hashlib.sha256(url.encode()).hexdigest()[:32]


def _remembered(memo: Path) -> str | None:
    try:
        return memo.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _remember(memo: Path, slot: str) -> None:
    with contextlib.suppress(OSError):
        memo.parent.mkdir(parents=True, exist_ok=True)
        if _remembered(memo) != slot:
            memo.write_text(slot, encoding="ascii")


def _unlock(
    args: argparse.Namespace, ctx: CliContext, store: Store, memo: Path, bad: BadObjects
) -> tuple[MasterKey, str]:
    return unlock(store, config.password(args, ctx), _remembered(memo), bad.report)


def _unlock_source(
    args: argparse.Namespace, ctx: CliContext, store: Store, memo: Path, bad: BadObjects
) -> tuple[MasterKey, str]:
    """As :func:`_unlock`, with the source's passphrase; its errors name the source."""
    try:
        return unlock(store, config.from_password(args, ctx), _remembered(memo), bad.report)
    except WrongPasswordError as exc:
        raise WrongPasswordError(
            f"source repository: {exc.message}",
            "check --from-password-file, KAIKYO_FROM_PASSWORD or KAIKYO_FROM_PASSWORD_FILE",
        ) from None
    except RepositoryNotFoundError as exc:
        raise RepositoryNotFoundError(
            f"source repository: {exc.message}", "check --from-repo or KAIKYO_FROM_REPOSITORY"
        ) from None


@contextmanager
def repository(
    args: argparse.Namespace,
    ctx: CliContext,
    mode: Mode = "read",
    load_index: bool = True,
    *,
    write: bool = False,
    source: bool = False,
) -> Iterator[Repository]:
    store = config.from_store_for(args, ctx) if source else config.store_for(args, ctx)
    bad = warn_bad(ctx, "source repository: " if source else "")
    try:
        # The key first, the engine's imports after: Argon2id's 48 MiB are freed before NumPy
        # and the codecs load (a restore's peak: 112 -> see the closing note of issue 2).
        memo = _slot_memo(ctx, store.url)
        master, slot = (_unlock_source if source else _unlock)(args, ctx, store, memo, bad)
        _remember(memo, slot)
        from kaikyo.repo import Repository, acquire_lock

        repo = Repository.open_with_key(store, master, slot)
        repo.bad = bad
        if mode == "read":
            if not write:
                repo.forbid_writes()
            if load_index:
                repo.load_index()
            yield repo
            return
        with acquire_lock(repo, ctx.clock, exclusive=mode == "exclusive") as lock:
            for info in lock.stale:
                why = info.why_stale(ctx.clock.now(), lock.host)
                ctx.stderr.write(
                    f"kaikyo: warning: ignoring a stale {info.describe()}: {why} "
                    "(remove it with 'kaikyo unlock')\n"
                )
            if not write:
                repo.forbid_writes()  # after the lock, which is written through the store
            if load_index:
                repo.load_index()
            yield repo
    finally:
        store.close()
