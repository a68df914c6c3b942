"""The Store contract: named, immutable-until-deleted objects.

Semantics every implementation guarantees (and :mod:`kaikyo.testing.contracts` checks):

- ``put`` is atomic: an object is either absent or complete; a failed or interrupted put leaves
  nothing visible. Putting a name that exists raises :class:`ObjectExists` unless
  ``overwrite=True``. Callers that name objects by content treat ``ObjectExists`` as success.
- ``get(name, offset, length)`` returns exactly the requested bytes or raises; a range beyond
  the end raises :class:`InvalidRange`; ``length=None`` means "to the end".
- ``put_file(name, path)`` is ``put`` of a local file's bytes (never ``overwrite``); the caller
  keeps and removes the file. ``spool_dir()`` names a directory where a writer should build
  such files (``None``: anywhere), so the store can take them without a copy.
- ``list(prefix)`` yields every object whose name starts with ``prefix``, in no promised order.
- ``delete`` of a missing object raises :class:`ObjectNotFound`.
- Transient failures raise :class:`StoreUnavailable`; everything else is permanent.
- Stores are safe to use from several threads; after ``fork`` a child must call ``reopen()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a listing or stat tells about an object.

    ``mtime`` is when the store received the object, by the store's clock (for the haven: the
    haven's clock, which a client cannot set); ``None`` where a store cannot tell.
    """

    name: str
    size: int
    mtime: float | None = None


class Store(Protocol):
    url: str

    def put(self, name: str, data: bytes | memoryview, *, overwrite: bool = False) -> None: ...

    def put_file(self, name: str, path: str) -> None: ...

    def spool_dir(self) -> str | None: ...

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes: ...

    def stat(self, name: str) -> ObjectInfo: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def delete(self, name: str) -> None: ...

    def exists(self, name: str) -> bool: ...

    def reopen(self) -> None:
        """Re-create connections after fork (no-op for stores without any)."""
        ...

    def close(self) -> None: ...
