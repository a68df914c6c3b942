"""A read-only view of a store, for the commands that only read.

``snapshots``, ``ls``, ``restore``, ``check`` and the other readers get their repository over
this view (see :func:`kaikyo.cli.session.repository`): whatever a bug or a future change in
them might attempt, they cannot store, overwrite or delete an object. Their lock, which they
do write, is taken through the store itself before the view is put in place.
"""

from __future__ import annotations

from collections.abc import Iterator

from kaikyo.store.base import ObjectInfo, Store
from kaikyo.store.errors import StorePermissionDenied


class ReadOnlyStore:
    """Delegates reads to ``inner``; every write raises :class:`StorePermissionDenied`."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url

    def _refuse(self, name: str) -> StorePermissionDenied:
        return StorePermissionDenied(
            f"this command only reads the repository, yet tried to change {name}",
            "nothing was changed; report this as a bug",
        )

    def put(self, name: str, data: bytes | memoryview, *, overwrite: bool = False) -> None:
        raise self._refuse(name)

    def put_file(self, name: str, path: str) -> None:
        raise self._refuse(name)

    def delete(self, name: str) -> None:
        raise self._refuse(name)

    def spool_dir(self) -> str | None:
        return None

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self.inner.get(name, offset, length)

    def stat(self, name: str) -> ObjectInfo:
        return self.inner.stat(name)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def reopen(self) -> None:
        self.inner.reopen()

    def close(self) -> None:
        self.inner.close()
