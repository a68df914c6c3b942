"""Finding a repository's key slots in a store, without loading the engine.

Kept apart from :mod:`kaikyo.repo.repository` (which imports NumPy for the index and the
codecs): opening a key costs Argon2id's 48 MiB for a moment, and a process that has imported
little at that moment peaks lower.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kaikyo.core.constants import CONFIG_NAME, KEY_PREFIX, MAX_KEY_SLOT_SIZE
from kaikyo.core.crypto.keys import (
    MasterKey,
    generate_recovery_key,
    make_key_slot,
    open_any_slot,
    recovery_secret,
)
from kaikyo.errors import RepositoryExistsError, RepositoryNotFoundError, UsageError
from kaikyo.store.base import Store
from kaikyo.store.errors import ObjectNotFound


@dataclass(frozen=True, slots=True)
class NewKeys:
    """A new repository's master key, its passphrase slot and its recovery slot; ``recovery``
    is the recovery key, shown once and never stored."""

    master: MasterKey
    slot: bytes
    recovery_slot: bytes
    recovery: str


def key_slots(
    store: Store, prefer: str | None = None, on_refused: Callable[[str, str], None] | None = None
) -> Iterator[tuple[str, bytes]]:
    """The key slots of the repository in ``store``, fetched one at a time as they are tried;
    the slot named ``prefer`` (the one that opened last time) first.

    Each slot costs a key derivation, so trying the known one first keeps a repository with
    many keys, or with slots planted by a token holder, as fast to open as one with a single
    key. Objects too large to be a key slot are refused unread.

    Raises RepositoryNotFoundError if there is no repository there.
    """
    if not store.exists(CONFIG_NAME):
        raise RepositoryNotFoundError(f"no repository at {store.url}")
    infos = sorted(store.list(KEY_PREFIX), key=lambda o: (o.name != prefer, o.name))
    for info in infos:
        if info.size > MAX_KEY_SLOT_SIZE:
            if on_refused is not None:
                on_refused(info.name, f"{info.size} bytes is too large for a key slot")
            continue
        try:
            raw = store.get(info.name)
        except ObjectNotFound:
            continue  # removed meanwhile
        yield info.name, raw


def unlock(
    store: Store,
    password: str,
    prefer: str | None = None,
    on_refused: Callable[[str, str], None] | None = None,
) -> tuple[MasterKey, str]:
    """The master key that ``password`` opens, and the name of its slot. Slots that cannot
    be used (malformed, unknown version, beyond the KDF bounds) go to ``on_refused``."""
    return open_any_slot(key_slots(store, prefer, on_refused), password, on_refused)


def ensure_absent(store: Store) -> None:
    if store.exists(CONFIG_NAME):
        raise RepositoryExistsError(f"a repository already exists at {store.url}")


def new_keys(
    password: str, meta: dict[str, Any] | None = None, kdf_cost: tuple[int, int] | None = None
) -> NewKeys:
    """Generate a master key and wrap it for ``password`` and for a new recovery key."""
    if not password:
        raise UsageError("an empty passphrase is not allowed")
    master = MasterKey.generate()
    t, m = kdf_cost or (None, None)
    slot = make_key_slot(master, password.encode(), meta=slot_meta(meta), time_cost=t, memory_kib=m)
    recovery = generate_recovery_key()
    rslot = make_key_slot(master, recovery_secret(recovery), recovery=True, meta=slot_meta(meta))
    return NewKeys(master, slot, rslot, recovery)


def slot_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    base: dict[str, Any] = {"host": socket.gethostname(), "user": _username()}
    base.update(meta or {})
    return base


def _username() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, ImportError):
        return str(os.getuid())
