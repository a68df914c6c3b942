"""Where tenants' objects live on disk, and how an upload becomes an object.

Each repository is a :class:`~kaikyo.store.local.LocalStore` directory at
``<data>/objects/<tenant>/<repo>``; reads, stats and listings go through it unchanged. Uploads
stream: :class:`PendingObject` writes chunks to a temporary file in the store's ``.tmp`` while
hashing them; :meth:`~PendingObject.seal` checks size and hash and fsyncs, and only then
:meth:`~PendingObject.publish` sets the receive time by the haven's clock and links the file
into place (link fails if the name exists, so nothing is overwritten by accident). A failed or
abandoned upload removes its temporary file: nothing partial is ever visible.

Repository name grammar (checked when a tenant verifies names, the default): the
content-addressed names of :mod:`kaikyo.store.names`, whose bytes the haven checks against the
SHA-256 in the name, plus ``config`` (unverifiable: the haven cannot know its content).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import threading
from pathlib import Path

from kaikyo.clock import Clock
from kaikyo.store.errors import InvalidName, ObjectExists, StoreCorrupt
from kaikyo.store.local import TMP_DIR, LocalStore
from kaikyo.store.names import UNVERIFIED_NAMES, content_digest, validate_name

_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def validate_segment(kind: str, value: str) -> str:
    """Tenant and repository names: one lowercase segment, so they can never escape a path."""
    if not _SEGMENT.fullmatch(value):
        raise InvalidName(f"invalid {kind} name {value!r}", f"a {kind} name is [a-z0-9._-], max 64")
    return value


def expected_sha256(name: str, verify: bool) -> str | None:
    """The SHA-256 the bytes of ``name`` must have, or None when they cannot be checked.

    Raises :class:`InvalidName` for names outside the store grammar, and, when ``verify`` is
    set, for names outside the repository grammar.
    """
    validate_name(name)
    digest = content_digest(name)
    if digest is not None:
        return digest if verify else None
    if verify and name not in UNVERIFIED_NAMES:
        raise InvalidName(f"object name {name!r} is not part of a kaikyo repository")
    return None


class PendingObject:
    """An upload in progress; owned by one request, not thread-safe."""

    def __init__(self, store: LocalStore, name: str, size: int, sha256: str | None) -> None:
        self._store, self.name, self.size, self._want = store, name, size, sha256
        tmpdir = store.root / TMP_DIR
        tmpdir.mkdir(parents=True, exist_ok=True)
        self._tmp = tmpdir / f"{secrets.token_hex(8)}.up"
        self._fd: int | None = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._hash = hashlib.sha256()
        self.received = 0

    def write(self, chunk: bytes) -> None:
        assert self._fd is not None
        self.received += len(chunk)
        if self.received > self.size:
            raise StoreCorrupt(f"body of {self.name} is longer than its Content-Length")
        self._hash.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]

    def seal(self) -> None:
        """Check size and hash and make the bytes durable; blocking (a worker thread).

        Raises StoreCorrupt for a body cut short or not matching its name; nothing has been
        published or replaced then.
        """
        assert self._fd is not None
        if self.received != self.size:
            raise StoreCorrupt(f"body of {self.name} ended after {self.received} of {self.size}")
        if self._want is not None and self._hash.hexdigest() != self._want:
            raise StoreCorrupt(f"content of {self.name} does not match its name")
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None

    def publish(self, clock: Clock, overwrite: bool) -> None:
        """Give the sealed object its receive time and link it into place."""
        assert self._fd is None, "seal() first"
        now = clock.now()
        os.utime(self._tmp, (now, now))
        final = self._store.root / self.name
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            if overwrite:
                os.replace(self._tmp, final)
            else:
                try:
                    os.link(self._tmp, final)
                except FileExistsError:
                    raise ObjectExists(f"object exists: {self.name}") from None
        finally:
            self.abort()
        fsync_dir(final.parent)

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ObjectArea:
    """Maps (tenant, repository) to its store directory; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stores: dict[tuple[str, str], LocalStore] = {}
        self._lock = threading.Lock()

    def repo_root(self, tenant: str, repo: str) -> Path:
        return self.root / validate_segment("tenant", tenant) / validate_segment("repository", repo)

    def store(self, tenant: str, repo: str, *, create: bool = False) -> LocalStore:
        key = (tenant, repo)
        with self._lock:
            store = self._stores.get(key)
            if store is None or (create and not store.root.is_dir()):
                store = LocalStore(self.repo_root(tenant, repo), create=create)
                if create:
                    self._stores[key] = store
            return store

    def repositories(self, tenant: str) -> list[str]:
        base = self.root / validate_segment("tenant", tenant)
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def clean_uploads(self) -> int:
        """Remove temporary files of uploads cut short by a crash; call only at startup, when
        no upload can be in progress. Returns how many were removed."""
        removed = 0
        for tmp in self.root.glob(f"*/*/{TMP_DIR}/*.up"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
        return removed

    def begin_put(
        self, tenant: str, repo: str, name: str, size: int, sha256: str | None
    ) -> PendingObject:
        return PendingObject(self.store(tenant, repo, create=True), name, size, sha256)
