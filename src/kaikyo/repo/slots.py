"""Finding a repository's key slots in a store, without loading the engine.

Kept apart from :mod:`kaikyo.repo.repository` (which imports NumPy for the index and the
codecs): opening a key costs Argon2id's 64 MiB for a moment, and a process that has imported
little at that moment peaks lower.
"""

from __future__ import annotations

from collections.abc import Iterator

from kaikyo.core.crypto.keys import MasterKey, open_any_slot
from kaikyo.core.format.constants import CONFIG_NAME, KEY_PREFIX
from kaikyo.errors import RepositoryNotFoundError
from kaikyo.store.base import Store


def key_slots(store: Store) -> Iterator[tuple[str, bytes]]:
    """The key slots of the repository in ``store``, fetched one at a time as they are tried.

    Raises RepositoryNotFoundError if there is no repository there.
    """
    if not store.exists(CONFIG_NAME):
        raise RepositoryNotFoundError(f"no repository at {store.url}")
    for name in [o.name for o in store.list(KEY_PREFIX)]:
        yield name, store.get(name)


def unlock(store: Store, password: str) -> tuple[MasterKey, str]:
    """The master key that ``password`` opens, and the name of its slot."""
    return open_any_slot(key_slots(store), password)
