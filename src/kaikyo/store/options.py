"""What opening a store takes besides its URL: :class:`StoreOptions`.

Its own module so that the registry (which builds every store) and each store (which reads its
options) both depend on it and not on each other. It stays light: the registry imports it for
every command, so it must not load httpx (a local repository never needs it); the haven URL is
parsed by the HTTP store itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kaikyo.clock import SYSTEM_CLOCK, Clock
from kaikyo.store.retrying import RetryWatcher


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Settings a store may need; each store reads only what applies to it."""

    create: bool = False
    token: str | None = None
    upload_limit: str | None = None  # e.g. "09:00-20:00=10M,*=0" (see store.ratelimit)
    download_limit: str | None = None  # the same grammar; paced by store.limited
    connections: int = 8
    timeout: float = 60.0
    ca_file: str | None = None
    clock: Clock = field(default=SYSTEM_CLOCK)
    retry_limit: float | None = None  # seconds a call may retry for (None: the default, 5 min)
    retry_watcher: RetryWatcher | None = None  # told of retries (see store.retrying)
