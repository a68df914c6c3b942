"""``file://`` and plain paths: a store in a local directory (the embedded default).

Objects are files under the root named exactly as the object. A put writes a temporary file in
``<root>/.tmp``, fsyncs it, links it into place (which fails if the name exists, so two writers
never overwrite each other), then fsyncs the directory. A crash leaves at worst a stray
temporary file, which is never listed and is removed after a day, when a writer next asks for
the spool directory (:meth:`LocalStore.spool_dir`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from kaikyo.clock import SYSTEM_CLOCK
from kaikyo.store.base import ObjectInfo
from kaikyo.store.errors import (
    InvalidRange,
    ObjectExists,
    ObjectNotFound,
    StoreError,
    map_os_error,
)
from kaikyo.store.names import validate_name, validate_prefix

TMP_DIR = ".tmp"
STALE_TMP_SECONDS = 24 * 3600


class LocalStore:
    """A store rooted at a directory; see the module docstring for the write protocol."""

    def __init__(self, root: str | os.PathLike[str], *, create: bool = False) -> None:
        self.root = Path(root).absolute()
        self.url = str(self.root)
        self._made_dirs: set[str] = set()
        self._cleaned = False  # stale temporary files removed (once per store)
        if create:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                (self.root / TMP_DIR).mkdir(exist_ok=True)
            except OSError as exc:
                raise map_os_error(exc, str(self.root)) from None

    def _path(self, name: str) -> Path:
        return self.root / validate_name(name)

    def _ensure_parent(self, path: Path) -> None:
        parent = str(path.parent)
        if parent not in self._made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(parent)

    def spool_dir(self) -> str:
        """Where a writer may build a large object so that :meth:`put_file` links it into
        place without copying (same file system as the objects)."""
        tmpdir = self.root / TMP_DIR
        try:
            tmpdir.mkdir(exist_ok=True)
        except OSError as exc:
            raise map_os_error(exc, str(tmpdir)) from None
        if not self._cleaned:
            self.clean_temporary(STALE_TMP_SECONDS, SYSTEM_CLOCK.now())
            self._cleaned = True
        return str(tmpdir)

    def put(self, name: str, data: bytes | memoryview, *, overwrite: bool = False) -> None:
        final = self._path(name)
        tmp = self.root / TMP_DIR / f"{secrets.token_hex(8)}.tmp"
        try:
            (self.root / TMP_DIR).mkdir(exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            self._install(tmp, final, name, overwrite)
        except OSError as exc:
            raise map_os_error(exc, name) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def put_file(self, name: str, path: str) -> None:
        """Store the bytes of the local file ``path`` (the caller keeps and removes it).

        A file in :meth:`spool_dir` is fsynced and hard-linked into place: a 16 MiB pack is
        never copied, nor held in memory. Any other file is copied in, then linked.
        """
        final = self._path(name)
        tmpdir = self.root / TMP_DIR
        if os.path.dirname(os.path.abspath(path)) == str(tmpdir):
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self._install(Path(path), final, name, overwrite=False)
            except OSError as exc:
                raise map_os_error(exc, name) from None
            return
        tmp = tmpdir / f"{secrets.token_hex(8)}.tmp"
        try:
            tmpdir.mkdir(exist_ok=True)
            with open(path, "rb") as src, open(tmp, "xb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
                dst.flush()
                os.fsync(dst.fileno())
            self._install(tmp, final, name, overwrite=False)
        except OSError as exc:
            raise map_os_error(exc, name) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _install(self, tmp: Path, final: Path, name: str, overwrite: bool) -> None:
        """Make the durable file ``tmp`` visible as ``final``; then fsync the directory.

        Without ``overwrite`` a hard link, which fails if the name exists, so two writers
        never replace each other's object. ``tmp`` itself is left for the caller to remove.
        """
        self._ensure_parent(final)
        if overwrite:
            os.replace(tmp, final)
        else:
            try:
                os.link(tmp, final)
            except FileExistsError:
                raise ObjectExists(f"object exists: {name}") from None
        dfd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self._path(name)
        if offset < 0 or (length is not None and length < 0):
            raise InvalidRange(f"invalid range {offset}+{length} for {name}")
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise ObjectNotFound(f"object not found: {name}")
                if offset or length is not None:
                    end = st.st_size if length is None else offset + length
                    if end > st.st_size:
                        raise InvalidRange(f"range {offset}+{length} beyond end of {name}")
                    fh.seek(offset)
                    return fh.read(end - offset)
                return fh.read()
        except OSError as exc:
            raise map_os_error(exc, name) from None

    def stat(self, name: str) -> ObjectInfo:
        """Only regular files are objects: a directory (``data``, ``snapshots``) is not one,
        whatever its name."""
        try:
            st = self._path(name).lstat()
        except OSError as exc:
            raise map_os_error(exc, name) from None
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(f"object not found: {name}")
        return ObjectInfo(name, st.st_size, st.st_mtime)

    def exists(self, name: str) -> bool:
        try:
            return stat.S_ISREG(self._path(name).lstat().st_mode)
        except OSError:
            return False

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base if base else self.root
        root_len = len(str(self.root)) + 1
        for dirpath, dirnames, filenames in os.walk(start):
            if dirpath == str(self.root):
                dirnames[:] = [d for d in dirnames if d != TMP_DIR]
            for fn in filenames:
                full = os.path.join(dirpath, fn)
                name = full[root_len:]
                if not name.startswith(prefix):
                    continue
                try:
                    validate_name(name)
                    st = os.stat(full)
                except (StoreError, OSError):
                    continue  # foreign files and races with delete are not objects
                yield ObjectInfo(name, st.st_size, st.st_mtime)

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            if not stat.S_ISREG(path.lstat().st_mode):
                raise ObjectNotFound(f"object not found: {name}")
            os.unlink(path)
        except OSError as exc:
            raise map_os_error(exc, name) from None

    def reopen(self) -> None:
        self._made_dirs = set()

    def close(self) -> None:
        pass

    def clean_temporary(self, older_than: float, now: float) -> int:
        """Remove temporary files left by crashed writers; returns how many were removed."""
        removed = 0
        tmpdir = self.root / TMP_DIR
        if not tmpdir.is_dir():
            return 0
        for entry in os.scandir(tmpdir):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > older_than:
                    os.unlink(entry.path)
                    removed += 1
        return removed
