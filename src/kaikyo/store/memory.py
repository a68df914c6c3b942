"""``mem://``: a thread-safe in-memory store for tests and dry runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from kaikyo.store.base import ObjectInfo
from kaikyo.store.errors import InvalidRange, ObjectExists, ObjectNotFound
from kaikyo.store.names import validate_name, validate_prefix


class MemoryStore:
    def __init__(self, url: str = "mem://") -> None:
        self.url = url
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes | memoryview, *, overwrite: bool = False) -> None:
        validate_name(name)
        blob = bytes(data)
        with self._lock:
            if not overwrite and name in self._objects:
                raise ObjectExists(f"object exists: {name}")
            self._objects[name] = blob

    def put_file(self, name: str, path: str) -> None:
        with open(path, "rb") as fh:
            self.put(name, fh.read())

    def spool_dir(self) -> str | None:
        return None

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        validate_name(name)
        with self._lock:
            try:
                blob = self._objects[name]
            except KeyError:
                raise ObjectNotFound(f"object not found: {name}") from None
        end = len(blob) if length is None else offset + length
        if offset < 0 or end > len(blob) or end < offset:
            raise InvalidRange(f"range {offset}+{length} beyond end of {name}")
        return blob[offset:end]

    def stat(self, name: str) -> ObjectInfo:
        validate_name(name)
        with self._lock:
            if name not in self._objects:
                raise ObjectNotFound(f"object not found: {name}")
            return ObjectInfo(name, len(self._objects[name]))

    def exists(self, name: str) -> bool:
        with self._lock:
            return validate_name(name) in self._objects

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        with self._lock:
            items = [
                ObjectInfo(n, len(b)) for n, b in self._objects.items() if n.startswith(prefix)
            ]
        yield from items

    def delete(self, name: str) -> None:
        validate_name(name)
        with self._lock:
            if self._objects.pop(name, None) is None:
                raise ObjectNotFound(f"object not found: {name}")

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass
