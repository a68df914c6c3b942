"""``--limit-download``: a store whose reads are paced by a rate schedule, for every backend.

As restic's limiter, it wraps whatever store the URL opened (a local directory, a haven), so
the limit holds for the sum of all reads in flight: the token bucket is shared by every
thread and by forked workers (see :class:`~kaikyo.store.ratelimit.RateLimiter`). A read is
paced once its bytes are in, before they are handed on: the rate holds over any stretch of
more than one object, while one object may arrive at the link's speed. Writes pass through
(the upload limit is the HTTP store's own, paced while the body is sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kaikyo.store.base import ObjectInfo, Store
from kaikyo.store.ratelimit import RateLimiter


class DownloadLimitedStore:
    """Delegates to ``inner``; ``get`` waits until the schedule allows its bytes."""

    def __init__(self, inner: Store, limiter: RateLimiter) -> None:
        self.inner = inner
        self.url = inner.url
        self._limiter = limiter

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        data = self.inner.get(name, offset, length)
        if data:
            self._limiter.acquire(len(data))
        return data

    def put(self, name: str, data: bytes | memoryview, *, overwrite: bool = False) -> None:
        self.inner.put(name, data, overwrite=overwrite)

    def put_file(self, name: str, path: str) -> None:
        self.inner.put_file(name, path)

    def spool_dir(self) -> str | None:
        return self.inner.spool_dir()

    def stat(self, name: str) -> ObjectInfo:
        return self.inner.stat(name)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def reopen(self) -> None:
        self.inner.reopen()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
