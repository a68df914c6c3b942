"""Settings of one haven: a frozen value built at the edge (the CLI) and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kaikyo.store.wire import MAX_BODY_BYTES

DEFAULT_TRASH_GRACE = 7 * 24 * 3600.0
DEFAULT_BODY_TIMEOUT = 60.0
DEFAULT_MAX_LOCKS_PER_TOKEN = 64
DB_FILE = "haven.db"
OBJECTS_DIR = "objects"
TRASH_DIR = "trash"
ANCHOR_FILE = "audit.anchor"


@dataclass(frozen=True, slots=True)
class HavenSettings:
    """Everything the haven needs to know about its data directory and its limits.

    ``trash_grace`` is how long a deleted object stays recoverable, by the haven's clock.
    ``db_url`` defaults to SQLite inside ``data_dir``; a PostgreSQL URL may replace it.
    ``body_timeout``: an upload whose body sends nothing for this long is dropped (and its
    quota reservation released). ``max_locks_per_token``: locks one token holds at once.
    """

    data_dir: Path
    max_body: int = MAX_BODY_BYTES
    trash_grace: float = DEFAULT_TRASH_GRACE
    db_url: str | None = None
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_locks_per_token: int = DEFAULT_MAX_LOCKS_PER_TOKEN

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / DB_FILE}"

    @property
    def objects_root(self) -> Path:
        return self.data_dir / OBJECTS_DIR

    @property
    def trash_root(self) -> Path:
        return self.data_dir / TRASH_DIR

    @property
    def anchor_path(self) -> Path:
        return self.data_dir / ANCHOR_FILE
