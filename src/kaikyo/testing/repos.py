"""Repositories for tests, made in one place: cheap to create and to open."""

from __future__ import annotations

import os

from kaikyo.core.chunking import ChunkerParams
from kaikyo.repo import DEFAULT_PACK_SIZE, RepoConfig, Repository
from kaikyo.store.base import Store
from kaikyo.store.memory import MemoryStore

PASSWORD = "pw"
# Argon2id at its lowest cost (1 pass, 64 KiB): a key slot opens at once. Tests only.
CHEAP_KDF = (1, 64)


def new_repository(
    store: Store | None = None,
    password: str = PASSWORD,
    *,
    pack_size: int | None = None,
    chunker: ChunkerParams | None = None,
    kdf_cost: tuple[int, int] = CHEAP_KDF,
) -> Repository:
    """Create a repository on ``store`` (a new :class:`MemoryStore` if None) and return it.

    ``pack_size`` and ``chunker`` replace those of the default config; its index is not
    loaded (call :meth:`Repository.load_index` where the test needs it)."""
    config = None
    if pack_size is not None or chunker is not None:
        config = RepoConfig(
            repo_id=os.urandom(32).hex(),
            pack_size=pack_size or DEFAULT_PACK_SIZE,
            chunker=chunker or ChunkerParams(),
        )
    repo, _ = Repository.create(
        MemoryStore() if store is None else store, password, config=config, kdf_cost=kdf_cost
    )
    return repo
