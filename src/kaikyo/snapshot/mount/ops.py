"""The filesystem's operations, as libfuse's high-level API calls them (through mfusepy):
a path in, attributes, names, bytes or an ``OSError`` with an errno out.

Nothing here imports FUSE: :class:`SnapshotFS` is a plain object whose methods can be called
directly (the unit tests do), and :mod:`.fuse` hands it to mfusepy. Paths arrive as text
decoded from the kernel's bytes with ``surrogateescape`` and go back the same way, so any
byte string a tree holds is a name of the mount.

A repository that fails (a blob or tree that does not authenticate, a pack that is missing,
a haven that cannot be reached) fails the one operation with ``EIO`` and a warning on stderr
naming the path, once; the mount and every other file go on.

Every few seconds at most (``refresh_every``, default 60, as restic) listing a directory of
snapshots reads the snapshot list again, and the index if new snapshots came, so a mount
shows the backups made while it runs.
"""

from __future__ import annotations

import base64
import errno
import itertools
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from kaikyo.clock import Clock
from kaikyo.core.format.tree import NodeType, TreeNode
from kaikyo.errors import KaikyoError
from kaikyo.repo import SnapshotRecord
from kaikyo.repo.badobjects import OBJECT_ERRORS, reason_of
from kaikyo.snapshot.mount.blobs import Blobs
from kaikyo.snapshot.mount.catalog import (
    Entry,
    SnapshotDir,
    VirtualDir,
    VirtualLink,
    build_catalog,
)
from kaikyo.snapshot.mount.files import OpenFile, open_file, read_range

P = ParamSpec("P")
R = TypeVar("R")

_KINDS = {
    NodeType.FILE: stat.S_IFREG,
    NodeType.DIR: stat.S_IFDIR,
    NodeType.SYMLINK: stat.S_IFLNK,
    NodeType.FIFO: stat.S_IFIFO,
    NodeType.CHARDEV: stat.S_IFCHR,
    NodeType.BLOCKDEV: stat.S_IFBLK,
    NodeType.SOCKET: stat.S_IFSOCK,
}
_VIRTUAL_DIR_MODE = stat.S_IFDIR | 0o555
# What a repository that fails raises (store, integrity, a malformed object's decoding).
_REPO_ERRORS: tuple[type[BaseException], ...] = (KaikyoError, *OBJECT_ERRORS)
MAX_WARNINGS = 1000


@dataclass(frozen=True, slots=True)
class MountOptions:
    """``uid``/``gid``: the owner of the directories the mount makes up (the mounting user's);
    ``owner_root``: root owns everything, the snapshots' files too (restic's --owner-root)."""

    uid: int
    gid: int
    owner_root: bool = False
    refresh_every: float = 60.0


@dataclass(frozen=True, slots=True)
class InTree:
    """A path inside a snapshot: its node (None for the snapshot's root directory) and the
    tree to list if it is a directory (None for an empty one or not a directory)."""

    snap: SnapshotDir
    node: TreeNode | None
    tree: bytes | None

    @property
    def is_dir(self) -> bool:
        return self.node is None or self.node.is_dir


Resolved = VirtualDir | VirtualLink | InTree


def _fail(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _to_bytes(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _to_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _guarded(
    method: Callable[Concatenate[SnapshotFS, str, P], R],
) -> Callable[Concatenate[SnapshotFS, str, P], R]:
    """The repository's failures as EIO for this operation, with a warning; an OSError (an
    errno meant for the caller) passes."""

    def wrapper(self: SnapshotFS, path: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, path, *args, **kwargs)
        except OSError:
            raise
        except _REPO_ERRORS as exc:
            self.warn_once(_to_bytes(path), reason_of(exc))
            raise _fail(errno.EIO) from None

    wrapper.__name__ = method.__name__
    return wrapper


class SnapshotFS:
    """The read-only filesystem of a repository's snapshots (thread-safe: libfuse calls from
    several threads)."""

    use_ns = True  # mfusepy: times in integer nanoseconds

    def __init__(
        self,
        blobs: Blobs,
        list_snapshots: Callable[[], list[SnapshotRecord]],
        clock: Clock,
        options: MountOptions,
        warn: Callable[[str], None],
        on_ready: Callable[[], None] = lambda: None,
    ) -> None:
        self.blobs = blobs
        self.list_snapshots = list_snapshots
        self.clock = clock
        self.options = options
        self.warn = warn
        self.on_ready = on_ready
        self._mounted_ns = int(clock.now() * 1_000_000_000)
        self._records = list_snapshots()
        self._root = build_catalog(self._records, self._mounted_ns)
        self._listed_at = clock.monotonic()
        self._refresh_lock = threading.Lock()
        self._files: dict[int, OpenFile] = {}
        self._handles = itertools.count(1)
        self._warned: set[tuple[bytes, str]] = set()

    # ---- bookkeeping ---------------------------------------------------------------------

    def snapshot_ids(self) -> list[str]:
        """The snapshots shown, oldest first."""
        return [r.snapshot_id for r in self._records]

    def warn_once(self, path: bytes, reason: str) -> None:
        key = (path, reason)
        if key in self._warned or len(self._warned) >= MAX_WARNINGS:
            return
        self._warned.add(key)
        shown = path.decode("utf-8", "backslashreplace")
        self.warn(f"{shown}: {reason}; reading it gives an I/O error")

    def refresh(self, force: bool = False) -> None:
        """Read the snapshot list again if ``refresh_every`` has passed (or ``force``), and
        the index if snapshots were added. A failure keeps what was shown, with a warning."""
        now = self.clock.monotonic()
        if not force and now - self._listed_at < self.options.refresh_every:
            return
        if not self._refresh_lock.acquire(blocking=False):
            return  # another thread is at it
        try:
            self._listed_at = now
            records = self.list_snapshots()
            known = {r.snapshot_id for r in self._records}
            if any(r.snapshot_id not in known for r in records):
                self.blobs.reload_index()
            self._records = records
            self._root = build_catalog(records, self._mounted_ns)
        except _REPO_ERRORS as exc:
            self.warn(f"could not read the snapshot list again: {reason_of(exc)}")
        finally:
            self._refresh_lock.release()

    def resolve(self, path: bytes) -> Resolved:
        """What ``path`` names, or OSError(ENOENT / ENOTDIR)."""
        entry: Entry | InTree = self._root
        for part in path.split(b"/"):
            if not part:
                continue
            if isinstance(entry, SnapshotDir):
                entry = InTree(entry, None, entry.tree)
            if isinstance(entry, VirtualDir):
                found = entry.lookup(part)
                if found is None:
                    raise _fail(errno.ENOENT)
                entry = found
            elif isinstance(entry, InTree) and entry.is_dir:
                entry = self._child(entry, part)
            else:
                raise _fail(errno.ENOTDIR)
        if isinstance(entry, SnapshotDir):
            return InTree(entry, None, entry.tree)
        return entry

    def _child(self, where: InTree, name: bytes) -> InTree:
        node = self.blobs.tree(where.tree).by_name.get(name) if where.tree else None
        if node is None:
            raise _fail(errno.ENOENT)
        return InTree(where.snap, node, node.subtree if node.is_dir else None)

    # ---- attributes ----------------------------------------------------------------------

    def _owner(self, uid: int | None, gid: int | None) -> tuple[int, int]:
        if self.options.owner_root:
            return 0, 0
        return (
            self.options.uid if uid is None else uid,
            self.options.gid if gid is None else gid,
        )

    def _attrs(self, mode: int, size: int, mtime_ns: int, owner: tuple[int, int]) -> dict[str, Any]:
        return {
            "st_mode": mode,
            "st_nlink": 2 if stat.S_ISDIR(mode) else 1,
            "st_size": size,
            "st_blocks": (size + 511) // 512,
            "st_uid": owner[0],
            "st_gid": owner[1],
            "st_mtime": mtime_ns,
            "st_atime": mtime_ns,
            "st_ctime": mtime_ns,
        }

    def node_attrs(self, node: TreeNode, default_ns: int) -> dict[str, Any]:
        if node.type is NodeType.SYMLINK:
            size = len(node.target or b"")
        else:
            size = node.size or 0 if node.type is NodeType.FILE else 0
        mode = _KINDS[node.type] | ((node.mode or 0) & 0o7777)
        attrs = self._attrs(
            mode,
            size,
            default_ns if node.mtime is None else node.mtime,
            self._owner(node.uid, node.gid),
        )
        if node.links and node.type is NodeType.FILE:
            attrs["st_nlink"] = node.links
        if node.rdev is not None:
            attrs["st_rdev"] = node.rdev
        return attrs

    def attrs_of(self, entry: Resolved) -> dict[str, Any]:
        virtual_owner = self._owner(None, None)
        if isinstance(entry, VirtualDir):
            return self._attrs(_VIRTUAL_DIR_MODE, 0, entry.mtime_ns, virtual_owner)
        if isinstance(entry, VirtualLink):
            mode = stat.S_IFLNK | 0o777
            return self._attrs(mode, len(entry.target), entry.mtime_ns, virtual_owner)
        if entry.node is None:
            return self._attrs(_VIRTUAL_DIR_MODE, 0, entry.snap.mtime_ns, virtual_owner)
        return self.node_attrs(entry.node, entry.snap.mtime_ns)

    # ---- the operations (names as mfusepy calls them) -----------------------------------

    def init(self, path: str) -> None:
        self.on_ready()

    @_guarded
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        return self.attrs_of(self.resolve(_to_bytes(path)))

    @_guarded
    def readdir(self, path: str, fh: int) -> list[str | tuple[str, dict[str, int], int]]:
        entry = self.resolve(_to_bytes(path))
        if isinstance(entry, VirtualDir):
            self.refresh()
            entry = self.resolve(_to_bytes(path))
        out: list[str | tuple[str, dict[str, int], int]] = [".", ".."]
        if isinstance(entry, VirtualDir):
            for name, child in entry.children.items():
                mode = stat.S_IFLNK if isinstance(child, VirtualLink) else stat.S_IFDIR
                out.append((_to_text(name), {"st_mode": mode}, 0))
        elif isinstance(entry, InTree) and entry.is_dir:
            nodes = self.blobs.tree(entry.tree).nodes if entry.tree else []
            for node in nodes:
                out.append((_to_text(node.name), {"st_mode": _KINDS[node.type]}, 0))
        else:
            raise _fail(errno.ENOTDIR)
        return out

    @_guarded
    def readlink(self, path: str) -> str:
        entry = self.resolve(_to_bytes(path))
        if isinstance(entry, VirtualLink):
            return _to_text(entry.target)
        if isinstance(entry, InTree) and entry.node and entry.node.type is NodeType.SYMLINK:
            return _to_text(entry.node.target or b"")
        raise _fail(errno.EINVAL)

    @_guarded
    def open(self, path: str, flags: int) -> int:
        if flags & os.O_ACCMODE != os.O_RDONLY:
            raise _fail(errno.EROFS)
        raw = _to_bytes(path)
        entry = self.resolve(raw)
        if not isinstance(entry, InTree) or entry.node is None:
            raise _fail(errno.EISDIR)
        if entry.node.type is not NodeType.FILE:
            raise _fail(errno.EISDIR if entry.node.is_dir else errno.EACCES)
        f = open_file(self.blobs, raw, entry.node)
        fh = next(self._handles)
        self._files[fh] = f
        return fh

    @_guarded
    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        f = self._files.get(fh)
        if f is None:
            raise _fail(errno.EBADF)
        return read_range(self.blobs, f, offset, size)

    def release(self, path: str, fh: int) -> int:
        self._files.pop(fh, None)
        return 0

    @_guarded
    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        entry = self.resolve(_to_bytes(path))
        if isinstance(entry, InTree) and entry.node is not None:
            for key, value in entry.node.xattrs or []:
                if key == name:
                    return base64.b64decode(value)
        raise _fail(errno.ENODATA)

    @_guarded
    def listxattr(self, path: str) -> list[str]:
        entry = self.resolve(_to_bytes(path))
        if isinstance(entry, InTree) and entry.node is not None:
            return [key for key, _ in entry.node.xattrs or []]
        return []
