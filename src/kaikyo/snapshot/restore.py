"""Restore: recreate a snapshot (or part of it) under a target directory, exactly.

Plan first: walk the snapshot's trees and note, for every pack holding needed blobs, which file
offsets each blob goes to. Then forked worker processes share the packs; each reads a pack once
(one ranged read over the blobs needed), decrypts its blobs and writes them. Per-file work
(creating the inode, setting owner, mode and times) is the bulk of a restore of many small
files and is Python-bound, so it is done by the workers too: a file whose blobs all sit in one
pack is created, written, given its metadata and closed by the worker that owns that pack, in
one open. Files spread over several packs, and sparse files, are created by the main process
first and finished by it last. Files marked sparse keep their holes: aligned all-zero blocks are
not written and the size is set by truncate. Directories get their metadata last, deepest
first, so writing into them does not disturb their times.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import gc
import grp
import multiprocessing
import os
import pwd
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kaikyo.core.format.tree import Node, get_bytes, node_name
from kaikyo.errors import AlreadyExistsError, IntegrityError, NoSpaceError, PermissionDeniedError
from kaikyo.repo import Repository, pack_name
from kaikyo.snapshot import trees
from kaikyo.snapshot.filters import PathFilter


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


class Meta:
    """What is applied to an inode after its data: compact, since a restore holds one per file."""

    __slots__ = ("gid", "mode", "mtime", "uid", "xattrs")

    def __init__(self, node: Node, numeric_owner: bool) -> None:
        self.mode = int(node.get("mode", 0o644))
        self.mtime = int(node.get("mtime", 0))
        uid, gid = int(node.get("uid", -1)), int(node.get("gid", -1))
        if not numeric_owner:
            uid = _uid(node.get("user"), uid)
            gid = _gid(node.get("group"), gid)
        self.uid = uid
        self.gid = gid
        self.xattrs: list[list[str]] | None = node.get("xattrs") or None


class FileRec:
    __slots__ = ("content", "meta", "out", "owner", "size", "sparse")

    def __init__(self, out: bytes, node: Node, numeric_owner: bool) -> None:
        self.out = out
        self.size = int(node.get("size", 0))
        self.sparse = bool(node.get("sparse"))
        # Raw ids, concatenated: hex strings in a list would cost three times the memory.
        self.content = b"".join(bytes.fromhex(h) for h in node.get("content", ()))
        self.meta = Meta(node, numeric_owner)
        self.owner = -1  # worker that creates and finishes it; -1: the main process


@lru_cache(maxsize=4096)
def _uid(user: str | None, default: int) -> int:
    if user:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(user).pw_uid
    return default


@lru_cache(maxsize=4096)
def _gid(group: str | None, default: int) -> int:
    if group:
        with contextlib.suppress(KeyError):
            return grp.getgrnam(group).gr_gid
    return default


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


def apply_meta(target: bytes | int, meta: Meta, is_root: bool, warnings: list[str],
               shown: bytes, symlink: bool = False) -> None:
    """Owner (where permitted), xattrs, mode, then times: chown clears set-id bits, and any
    later change would move the times."""
    follow = not symlink
    if is_root or meta.uid == os.geteuid():
        try:
            os.chown(target, meta.uid, meta.gid, follow_symlinks=follow)
        except OSError as exc:
            warnings.append(f"{os.fsdecode(shown)}: cannot set owner: {exc.strerror}")
    for name, value in meta.xattrs or ():
        try:
            os.setxattr(target, name, base64.b64decode(value), follow_symlinks=follow)
        except OSError as exc:
            warnings.append(f"{os.fsdecode(shown)}: cannot set xattr {name}: {exc.strerror}")
    if not symlink:
        try:
            os.chmod(target, meta.mode)
        except OSError as exc:
            warnings.append(f"{os.fsdecode(shown)}: cannot set mode: {exc.strerror}")
    with contextlib.suppress(OSError, NotImplementedError):
        os.utime(target, ns=(meta.mtime, meta.mtime), follow_symlinks=follow)


class Restorer:
    def __init__(self, repo: Repository, opts: RestoreOptions) -> None:
        self.repo = repo
        self.opts = opts
        self.result = RestoreResult()
        self.files: list[FileRec] = []
        self.dirs: list[tuple[bytes, Meta]] = []
        self.specials: list[tuple[bytes, Node]] = []
        self.hardlinks: list[tuple[bytes, bytes]] = []
        self.plan: Plan = defaultdict(dict)
        self.filter = PathFilter(opts.include, opts.exclude)
        self.is_root = os.geteuid() == 0
        self.shares: list[list[bytes]] = []
        self.empty_shares: list[list[int]] = []

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
        if node is None:
            items = trees.walk(self.repo, root_tree)
        elif tree:
            items = trees.walk(self.repo, tree)
        else:
            items = iter([(b"/" + node_name(node), node)])
        seen_inodes: dict[tuple[int, int], bytes] = {}
        numeric = self.opts.numeric_owner
        for path, n in items:
            if not self.filter.wanted(path, n.get("type") == "dir"):
                continue
            out = self.opts.target + path
            kind = n.get("type")
            if kind == "dir":
                self.dirs.append((out, Meta(n, numeric)))
            elif kind == "file":
                if int(n.get("links", 1)) > 1:
                    key = (int(n.get("dev", 0)), int(n.get("inode", 0)))
                    if key in seen_inodes:
                        self.hardlinks.append((seen_inodes[key], out))
                        continue
                    seen_inodes[key] = out
                self._plan_file(FileRec(out, n, numeric))
            else:
                self.specials.append((out, n))

    def _plan_file(self, rec: FileRec) -> None:
        fno = len(self.files)
        self.files.append(rec)
        offset = 0
        raw = rec.content
        for i in range(0, len(raw), 32):
            bid = raw[i : i + 32]
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
        self._make_dirs()
        self._assign()
        self._prepare_shared_files()
        self._write_data()
        for rec in self.files:
            if rec.owner < 0:
                self._finish_file(rec)
        for src, dst in self.hardlinks:
            self._replace(dst)
            try:
                os.link(src, dst)
            except OSError as exc:
                raise _map_oserror(exc, os.fsdecode(dst)) from None
            self.result.links += 1
        for out, node in self.specials:
            self._special(out, node)
        for out, meta in sorted(self.dirs, key=lambda d: d[0].count(b"/"), reverse=True):
            apply_meta(out, meta, self.is_root, self.result.warnings, out)
        self.result.files = len(self.files)
        self.result.dirs = len(self.dirs)
        if self.opts.verify:
            self.result.verified = self._verify()
        return self.result

    def _make_dirs(self) -> None:
        # Walk order puts parents first, so plain mkdir suffices; makedirs only as a fallback.
        for out, _ in self.dirs:
            try:
                os.mkdir(out, 0o700)
            except FileExistsError:
                if not os.path.isdir(out):
                    if not self.opts.overwrite:
                        raise AlreadyExistsError(f"{os.fsdecode(out)} exists") from None
                    os.unlink(out)
                    os.mkdir(out, 0o700)
            except FileNotFoundError:
                os.makedirs(out, 0o700, exist_ok=True)
            except OSError as exc:
                raise _map_oserror(exc, os.fsdecode(out)) from None

    def _assign(self) -> None:
        """Share packs among workers by bytes; give each single-pack file to its pack's worker."""
        packs = sorted(self.plan, key=lambda p: len(self.plan[p]), reverse=True)
        n = max(1, min(self.opts.workers, max(len(packs), 1)))
        self.shares = [[] for _ in range(n)]
        self.empty_shares = [[] for _ in range(n)]
        loads = [0] * n
        worker_of: dict[bytes, int] = {}
        for pid in packs:
            w = loads.index(min(loads))
            self.shares[w].append(pid)
            worker_of[pid] = w
            loads[w] += sum(e[1] for e in self.plan[pid].values()) + 4096 * len(self.plan[pid])
        first_pack: dict[int, bytes] = {}
        multi: set[int] = set()
        for pid, blobs in self.plan.items():
            for _, _, _, targets in blobs.values():
                for fno, _ in targets:
                    seen = first_pack.setdefault(fno, pid)
                    if seen != pid:
                        multi.add(fno)
        for fno, rec in enumerate(self.files):
            if rec.sparse or fno in multi:
                continue
            if not rec.content:
                w = fno % n
                self.empty_shares[w].append(fno)
                rec.owner = w
            elif fno in first_pack:
                rec.owner = worker_of[first_pack[fno]]

    def _replace(self, path: bytes) -> None:
        if self.opts.overwrite and os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)

    def _prepare_shared_files(self) -> None:
        """Create the files written by several workers (or sparse) before data arrives."""
        for rec in self.files:
            if rec.owner >= 0:
                if self.opts.overwrite:
                    self._replace(rec.out)
                continue
            self._replace(rec.out)
            try:
                fd = os.open(rec.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                             0o600)
                try:
                    if rec.sparse:
                        os.ftruncate(fd, rec.size)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise _map_oserror(exc, os.fsdecode(rec.out)) from None

    def _write_data(self) -> None:
        """Share 0 runs in this process, the others in forked children: the parent would only
        wait otherwise, and each child costs a copy of every page of the plan it touches."""
        n = len(self.shares)
        ctx = multiprocessing.get_context("fork")
        queue: Any = ctx.SimpleQueue()
        # Keep the collector's hands off the plan in the children: otherwise its first pass
        # writes to every object's header and copies the whole plan into each worker.
        gc.freeze()
        procs = [ctx.Process(target=_worker, args=(self, w, queue), daemon=True)
                 for w in range(1, n)]
        for p in procs:
            p.start()
        failure: BaseException | None = None
        try:
            written, warnings = write_share(self, 0)
            self.result.bytes += written
            self.result.warnings += warnings
        except BaseException as exc:
            failure = exc
        for _ in procs:
            kind, value, warnings = queue.get()
            if kind == "ok":
                self.result.bytes += value
                self.result.warnings += warnings
            elif failure is None:
                failure = value
        for p in procs:
            p.join()
        gc.unfreeze()
        if failure is not None:
            raise failure

    def _finish_file(self, rec: FileRec) -> None:
        with contextlib.suppress(OSError):
            if os.lstat(rec.out).st_size != rec.size:
                os.truncate(rec.out, rec.size)
        apply_meta(rec.out, rec.meta, self.is_root, self.result.warnings, rec.out)

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
        except OSError as exc:
            raise _map_oserror(exc, os.fsdecode(out)) from None
        self.result.other += 1
        apply_meta(out, Meta(node, self.opts.numeric_owner), self.is_root,
                   self.result.warnings, out, symlink=kind == "symlink")

    def _verify(self) -> int:
        """Re-read every restored file and check each chunk against its blob id."""
        bad = []
        for rec in self.files:
            try:
                fd = os.open(rec.out, os.O_RDONLY)
            except OSError as exc:
                bad.append(f"{os.fsdecode(rec.out)}: {exc.strerror}")
                continue
            try:
                raw = rec.content
                for i in range(0, len(raw), 32):
                    bid = raw[i : i + 32]
                    raw_len = self.repo.blob_location(bid).raw_length
                    data = os.read(fd, raw_len)
                    while len(data) < raw_len:
                        more = os.read(fd, raw_len - len(data))
                        if not more:
                            break
                        data += more
                    if self.repo.hasher(data) != bid:
                        bad.append(f"{os.fsdecode(rec.out)}: content differs from the snapshot")
                        break
            finally:
                os.close(fd)
        if bad:
            raise IntegrityError(f"verification failed for {len(bad)} file(s): {bad[0]}")
        return len(self.files)


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
_REOPEN = os.O_WRONLY | os.O_NOFOLLOW


def write_share(r: Restorer, w: int) -> tuple[int, list[str]]:
    """Worker ``w``'s part: its packs' blobs, and the files it owns created and finished.

    Returns (bytes written, warnings).
    """
    repo = r.repo
    written = 0
    warnings: list[str] = []
    files = r.files
    for fno in r.empty_shares[w]:
        rec = files[fno]
        try:
            fd = os.open(rec.out, _CREATE, 0o600)
        except OSError as exc:
            raise _map_oserror(exc, os.fsdecode(rec.out)) from None
        try:
            apply_meta(fd, rec.meta, r.is_root, warnings, rec.out)
        finally:
            os.close(fd)
    for pid in r.shares[w]:
        blobs = r.plan[pid]
        lo = min(e[0] for e in blobs.values())
        hi = max(e[0] + e[1] for e in blobs.values())
        data = memoryview(repo.store.get(pack_name(pid), lo, hi - lo))
        fds: dict[int, int] = {}
        try:
            for bid, (off, length, raw_len, targets) in blobs.items():
                loc = repo.blob_location(bid)
                plain = repo.open_sealed_blob(loc, bid, data[off - lo : off - lo + length])
                for fno, foff in targets:
                    rec = files[fno]
                    if fno in fds:
                        fd = fds[fno]
                    else:
                        flags = _CREATE if rec.owner == w else _REOPEN
                        fd = fds[fno] = os.open(rec.out, flags, 0o600)
                    if rec.sparse:
                        _pwrite_sparse(fd, plain, foff)
                    else:
                        os.pwrite(fd, plain, foff)
                    written += raw_len
            for fno, fd in fds.items():
                rec = files[fno]
                if rec.owner == w:
                    apply_meta(fd, rec.meta, r.is_root, warnings, rec.out)
        except OSError as exc:
            raise _map_oserror(exc, "file data") from None
        finally:
            for fd in fds.values():
                os.close(fd)
    return written, warnings


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


def _worker(r: Restorer, w: int, queue: Any) -> None:
    try:
        r.repo.store.reopen()
        written, warnings = write_share(r, w)
        queue.put(("ok", written, warnings))
    except BaseException as exc:
        queue.put(("error", exc, []))


def run_restore(repo: Repository, root_tree: str, subpath: bytes, opts: RestoreOptions
                ) -> RestoreResult:
    return Restorer(repo, opts).run(root_tree, subpath)
