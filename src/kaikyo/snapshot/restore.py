"""Restore: recreate a snapshot (or part of it) under a target directory, exactly.

Plan, then write by pack: every pack holding needed blobs is read once (one ranged read over
the blobs needed) and each blob is written at every offset of every file that uses it. Packs
are shared among forked worker processes (per-file work is Python-bound, as in backup). Files
marked sparse are written with holes: all-zero chunks are skipped and the size set by truncate.
Metadata comes last: owners (where permitted), modes, extended attributes and times, and
directories deepest first so writing into them does not disturb their times.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import multiprocessing
import os
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from kaikyo.core.format.tree import Node, get_bytes, node_name
from kaikyo.errors import AlreadyExistsError, IntegrityError, NoSpaceError, PermissionDeniedError
from kaikyo.repo import Repository, pack_name
from kaikyo.snapshot import trees
from kaikyo.snapshot.filters import PathFilter


class RestoreProgress(Protocol):
    def bytes_written(self, n: int) -> None: ...


@dataclass(frozen=True, slots=True)
class RestoreOptions:
    target: bytes
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    overwrite: bool = False
    verify: bool = False
    workers: int = 2
    numeric_owner: bool = False


@dataclass
class RestoreResult:
    files: int = 0
    dirs: int = 0
    links: int = 0
    other: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)
    verified: int = 0


# One write: (file number, offset in file)
Target = tuple[int, int]
# pack id -> blob id -> (offset, length, raw length, targets)
Plan = dict[bytes, dict[bytes, tuple[int, int, int, list[Target]]]]


def _map_oserror(exc: OSError, what: str) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpaceError(f"no space left on the device while restoring {what}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDeniedError(f"permission denied while restoring {what}")
    return exc


class Restorer:
    def __init__(self, repo: Repository, opts: RestoreOptions,
                 progress: RestoreProgress | None = None) -> None:
        self.repo = repo
        self.opts = opts
        self.progress = progress
        self.result = RestoreResult()
        self.files: list[tuple[bytes, Node]] = []
        self.dirs: list[tuple[bytes, Node]] = []
        self.specials: list[tuple[bytes, Node]] = []
        self.hardlinks: list[tuple[bytes, bytes]] = []
        self.plan: Plan = defaultdict(dict)
        self.filter = PathFilter(opts.include, opts.exclude)
        self.is_root = os.geteuid() == 0

    def _check_target(self) -> None:
        target = self.opts.target
        if os.path.lexists(target):
            if not os.path.isdir(target):
                raise AlreadyExistsError(f"restore target {os.fsdecode(target)} is not a directory")
            if os.listdir(target) and not self.opts.overwrite:
                raise AlreadyExistsError(
                    f"restore target {os.fsdecode(target)} is not empty",
                    "choose an empty directory, or pass --overwrite to replace files in it")

    def _make_target(self) -> None:
        try:
            os.makedirs(self.opts.target, exist_ok=True)
        except OSError as exc:
            raise _map_oserror(exc, os.fsdecode(self.opts.target)) from None

    def collect(self, root_tree: str, subpath: bytes) -> None:
        """Walk the snapshot below ``subpath`` and build the plan."""
        _, node, tree = trees.resolve(self.repo, root_tree, subpath)
        # As restic: restoring SNAPSHOT:/a/b puts the contents of /a/b into the target.
        items: list[tuple[bytes, Node]]
        if node is None:
            items = list(trees.walk(self.repo, root_tree))
        elif tree:
            items = list(trees.walk(self.repo, tree))
        else:
            items = [(b"/" + node_name(node), node)]
        seen_inodes: dict[tuple[int, int], bytes] = {}
        for path, n in items:
            if not self.filter.wanted(path, n.get("type") == "dir"):
                continue
            out = self.opts.target + path
            kind = n.get("type")
            if kind == "dir":
                self.dirs.append((out, n))
            elif kind == "file":
                key = (int(n.get("dev", 0)), int(n.get("inode", 0)))
                if int(n.get("links", 1)) > 1 and key in seen_inodes:
                    self.hardlinks.append((seen_inodes[key], out))
                    continue
                if int(n.get("links", 1)) > 1:
                    seen_inodes[key] = out
                self._plan_file(out, n)
            else:
                self.specials.append((out, n))

    def _plan_file(self, out: bytes, node: Node) -> None:
        fno = len(self.files)
        self.files.append((out, node))
        offset = 0
        for hex_id in node.get("content", []):
            bid = bytes.fromhex(hex_id)
            loc = self.repo.blob_location(bid)
            blobs = self.plan[loc.pack_id]
            entry = blobs.get(bid)
            if entry is None:
                entry = blobs[bid] = (loc.offset, loc.length, loc.raw_length, [])
            entry[3].append((fno, offset))
            offset += loc.raw_length

    def run(self, root_tree: str, subpath: bytes = b"/") -> RestoreResult:
        self._check_target()
        self.collect(root_tree, subpath)  # a bad path fails here, before anything is created
        self._make_target()
        for out, _ in self.dirs:
            try:
                os.makedirs(out, mode=0o700, exist_ok=True)
            except OSError as exc:
                raise _map_oserror(exc, os.fsdecode(out)) from None
        self._prepare_files()
        self._write_data()
        for out, node in self.files:
            self._finish_file(out, node)
        for src, dst in self.hardlinks:
            self._replace(dst)
            os.link(src, dst)
            self.result.links += 1
        for out, node in self.specials:
            self._special(out, node)
        for out, node in sorted(self.dirs, key=lambda d: d[0].count(b"/"), reverse=True):
            self._apply_meta(out, node, is_dir=True)
        self.result.files = len(self.files)
        self.result.dirs = len(self.dirs)
        if self.opts.verify:
            self.result.verified = self._verify()
        return self.result

    def _replace(self, path: bytes) -> None:
        if self.opts.overwrite and os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)

    def _prepare_files(self) -> None:
        """Create every file empty (and sized, where sparse) before data arrives."""
        for out, node in self.files:
            self._replace(out)
            try:
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                try:
                    if node.get("sparse"):
                        os.ftruncate(fd, int(node.get("size", 0)))
                finally:
                    os.close(fd)
            except OSError as exc:
                raise _map_oserror(exc, os.fsdecode(out)) from None

    def _write_data(self) -> None:
        packs = sorted(self.plan, key=lambda p: len(self.plan[p]), reverse=True)
        if not packs:
            return
        n = max(1, min(self.opts.workers, len(packs)))
        if n == 1:
            self.result.bytes += write_packs(self, packs)
            return
        shares: list[list[bytes]] = [[] for _ in range(n)]
        loads = [0] * n
        for pid in packs:
            w = loads.index(min(loads))
            shares[w].append(pid)
            loads[w] += sum(e[1] for e in self.plan[pid].values())
        ctx = multiprocessing.get_context("fork")
        queue: Any = ctx.SimpleQueue()
        procs = [ctx.Process(target=_worker, args=(self, share, queue), daemon=True)
                 for share in shares]
        for p in procs:
            p.start()
        failure: BaseException | None = None
        for _ in procs:
            kind, value = queue.get()
            if kind == "ok":
                self.result.bytes += value
            elif failure is None:
                failure = value
        for p in procs:
            p.join()
        if failure is not None:
            raise failure

    def _finish_file(self, out: bytes, node: Node) -> None:
        size = int(node.get("size", 0))
        with contextlib.suppress(OSError):
            if os.lstat(out).st_size != size:
                os.truncate(out, size)
        self._apply_meta(out, node, is_dir=False)

    def _special(self, out: bytes, node: Node) -> None:
        kind = node.get("type")
        self._replace(out)
        try:
            if kind == "symlink":
                target = get_bytes(node, "target") or b""
                os.symlink(target, out)
            elif kind == "fifo":
                os.mkfifo(out, 0o600)
            elif kind in ("chardev", "blockdev"):
                flag = stat.S_IFCHR if kind == "chardev" else stat.S_IFBLK
                os.mknod(out, flag | 0o600, int(node.get("rdev", 0)))
            else:
                self.result.warnings.append(f"{os.fsdecode(out)}: {kind} not restored")
                return
        except PermissionError:
            self.result.warnings.append(f"{os.fsdecode(out)}: no permission to create {kind}")
            return
        self.result.other += 1
        self._apply_meta(out, node, is_dir=False, symlink=kind == "symlink")

    def _apply_meta(self, out: bytes, node: Node, is_dir: bool, symlink: bool = False) -> None:
        follow = not symlink
        if self.is_root or node.get("uid") == os.geteuid():
            uid, gid = int(node.get("uid", -1)), int(node.get("gid", -1))
            if not self.opts.numeric_owner:
                uid, gid = _by_name(node, uid, gid)
            try:
                os.chown(out, uid, gid, follow_symlinks=follow)
            except OSError as exc:
                self.result.warnings.append(f"{os.fsdecode(out)}: cannot set owner: "
                                            f"{exc.strerror}")
        for name, value in node.get("xattrs", []) or []:
            try:
                os.setxattr(out, name, base64.b64decode(value), follow_symlinks=follow)
            except OSError as exc:
                self.result.warnings.append(f"{os.fsdecode(out)}: cannot set xattr {name}: "
                                            f"{exc.strerror}")
        if not symlink:
            try:
                os.chmod(out, int(node.get("mode", 0o644)))
            except OSError as exc:
                self.result.warnings.append(f"{os.fsdecode(out)}: cannot set mode: "
                                            f"{exc.strerror}")
        mtime = int(node.get("mtime", 0))
        with contextlib.suppress(OSError, NotImplementedError):
            os.utime(out, ns=(mtime, mtime), follow_symlinks=follow)

    def _verify(self) -> int:
        """Re-read every restored file and check each chunk against its blob id."""
        bad = []
        for out, node in self.files:
            try:
                fd = os.open(out, os.O_RDONLY)
            except OSError as exc:
                bad.append(f"{os.fsdecode(out)}: {exc.strerror}")
                continue
            try:
                for hex_id in node.get("content", []):
                    bid = bytes.fromhex(hex_id)
                    raw_len = self.repo.blob_location(bid).raw_length
                    data = os.read(fd, raw_len)
                    while len(data) < raw_len:
                        more = os.read(fd, raw_len - len(data))
                        if not more:
                            break
                        data += more
                    if self.repo.hasher(data) != bid:
                        bad.append(f"{os.fsdecode(out)}: content differs from the snapshot")
                        break
            finally:
                os.close(fd)
        if bad:
            raise IntegrityError(f"verification failed for {len(bad)} file(s): {bad[0]}")
        return len(self.files)


def _by_name(node: Node, uid: int, gid: int) -> tuple[int, int]:
    import grp
    import pwd

    user, group = node.get("user"), node.get("group")
    if user:
        with contextlib.suppress(KeyError):
            uid = pwd.getpwnam(user).pw_uid
    if group:
        with contextlib.suppress(KeyError):
            gid = grp.getgrnam(group).gr_gid
    return uid, gid


def write_packs(r: Restorer, packs: list[bytes]) -> int:
    """Read each pack once and write its blobs to their files; returns bytes written."""
    repo = r.repo
    written = 0
    for pid in packs:
        blobs = r.plan[pid]
        lo = min(e[0] for e in blobs.values())
        hi = max(e[0] + e[1] for e in blobs.values())
        data = memoryview(repo.store.get(pack_name(pid), lo, hi - lo))
        fds: dict[int, int] = {}
        try:
            for bid, (off, length, raw_len, targets) in blobs.items():
                loc = repo.blob_location(bid)
                plain = repo.open_sealed_blob(loc, bid, data[off - lo : off - lo + length])
                zero = plain.count(0) == raw_len
                for fno, foff in targets:
                    out, node = r.files[fno]
                    if zero and node.get("sparse"):
                        continue
                    fd = fds.get(fno)
                    if fd is None:
                        fd = fds[fno] = os.open(out, os.O_WRONLY | os.O_NOFOLLOW)
                    if node.get("sparse"):
                        _pwrite_sparse(fd, plain, foff)
                    else:
                        os.pwrite(fd, plain, foff)
                    written += raw_len
        except OSError as exc:
            raise _map_oserror(exc, "file data") from None
        finally:
            for fd in fds.values():
                os.close(fd)
    return written


SPARSE_BLOCK = 4096
_ZERO_BLOCK = bytes(SPARSE_BLOCK)


def _pwrite_sparse(fd: int, data: bytes, offset: int) -> None:
    """Write ``data`` at ``offset`` but leave holes where whole aligned blocks are zero.

    A chunk of a sparse file often mixes data with long zero runs (the chunker cuts zeros
    only at its maximum size), so skipping all-zero chunks alone leaves the file dense.
    """
    view = memoryview(data)
    pos = 0
    start = -1  # start of the pending run of non-zero blocks
    while pos < len(view):
        end = min(len(view), pos + SPARSE_BLOCK - (offset + pos) % SPARSE_BLOCK)
        block = view[pos:end]
        zero = block == _ZERO_BLOCK[: end - pos]
        if zero and start >= 0:
            os.pwrite(fd, view[start:pos], offset + start)
            start = -1
        elif not zero and start < 0:
            start = pos
        pos = end
    if start >= 0:
        os.pwrite(fd, view[start:], offset + start)


def _worker(r: Restorer, packs: list[bytes], queue: Any) -> None:
    try:
        r.repo.store.reopen()
        queue.put(("ok", write_packs(r, packs)))
    except BaseException as exc:
        queue.put(("error", exc))


def run_restore(repo: Repository, root_tree: str, subpath: bytes, opts: RestoreOptions
                ) -> RestoreResult:
    return Restorer(repo, opts).run(root_tree, subpath)
