"""URL scheme -> store factory, assembled explicitly in :func:`default_registry`.

Nothing registers itself at import time; tests build their own registry when they need to.
:class:`StoreOptions` lives in :mod:`.options`, so that the stores this module builds never
import it back.
"""

from __future__ import annotations

from collections.abc import Callable

from kaikyo.errors import UsageError
from kaikyo.store.base import Store
from kaikyo.store.limited import DownloadLimitedStore
from kaikyo.store.local import LocalStore
from kaikyo.store.memory import MemoryStore
from kaikyo.store.options import StoreOptions
from kaikyo.store.ratelimit import RateLimiter, parse_schedule

Factory = Callable[[str, StoreOptions], Store]


class StoreRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, Factory] = {}

    def register(self, scheme: str, factory: Factory) -> None:
        self._factories[scheme] = factory

    def schemes(self) -> list[str]:
        return sorted(self._factories)

    def open(self, url: str, options: StoreOptions | None = None) -> Store:
        options = options or StoreOptions()
        scheme, sep, _ = url.partition("://")
        if not sep:
            scheme = "file"
        factory = self._factories.get(scheme)
        if factory is None:
            raise UsageError(
                f"unsupported repository URL scheme {scheme!r}",
                f"use one of: {', '.join(self.schemes())}, or a plain path",
            )
        store = factory(url, options)
        if options.download_limit:
            schedule = parse_schedule(options.download_limit)
            if schedule.windows or schedule.default_rate:
                return DownloadLimitedStore(store, RateLimiter(schedule, options.clock))
        return store


def _local(url: str, options: StoreOptions) -> Store:
    path = url[len("file://") :] if url.startswith("file://") else url
    return LocalStore(path, create=options.create)


_MEMORY_STORES: dict[str, Store] = {}


def _memory(url: str, options: StoreOptions) -> Store:
    # The same mem:// URL names the same store within one process, like a path does.
    if url not in _MEMORY_STORES:
        _MEMORY_STORES[url] = MemoryStore(url)
    return _MEMORY_STORES[url]


def _http(url: str, options: StoreOptions) -> Store:
    # Imported here, not at the top: httpx takes about 0.1 s to import, which a command on a
    # local repository should not pay. (Not a cycle: the HTTP store never imports this module.)
    from kaikyo.store.http import HttpStore

    return HttpStore(url, options)


def default_registry() -> StoreRegistry:
    """Every built-in store, listed in one place."""
    registry = StoreRegistry()
    registry.register("file", _local)
    registry.register("mem", _memory)
    registry.register("http", _http)
    registry.register("https", _http)
    return registry


def open_store(url: str, options: StoreOptions | None = None) -> Store:
    return default_registry().open(url, options)
