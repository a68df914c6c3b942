"""Restore: recreate a snapshot (or part of it) under a target directory, exactly.

Plan first: walk the snapshot's trees into compact columns (arrays, not an object per file):
per file its directory (one shared bytes object per directory), name, mode, owner, times and
size; per chunk of a file one row (id, then pack, offset, lengths and offset in the file, all
located in the index at once). About 100 bytes per file and 70 per chunk.

Then threads share the packs. Each reads the chunks a pack holds for the restore in spans of at
most ``SPAN`` bytes (one ranged read per span), decrypts and writes them, so it holds one span
and one chunk at a time. Threads, not forked processes: decryption, decompression and file
system calls release the GIL, and a forked child counts the interpreter and the plan again.

Per-file work (creating the inode, setting owner, mode and times) is the bulk of a restore of
many small files, so the threads do it too: a file whose chunks all sit in one pack is created,
written, given its metadata and closed by the thread that owns that pack, in one open, once its
last chunk is written. Calls that would change nothing are skipped: when a probe shows that a
new inode in the target gets our uid and gid and exactly the mode asked for less the umask, a
file is created with its final mode, and chown/chmod run only where they change something.
Files spread over several packs, and sparse files, are created by the main thread first and
finished by it last. Files marked sparse keep their holes: aligned all-zero blocks are not
written and the size is set by truncate. Directories get their metadata last, deepest first, so
writing into them does not disturb their times.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
from array import array
from itertools import takewhile

import numpy as np
import numpy.typing as npt

from kaikyo.core.format.envelope import open_blob
from kaikyo.core.format.tree import Node, get_bytes, node_name
from kaikyo.errors import AlreadyExistsError, IntegrityError
from kaikyo.repo import Repository
from kaikyo.snapshot import trees
from kaikyo.snapshot.filters import PathFilter
from kaikyo.snapshot.restore.metadata import Inodes, Meta, Xattrs, apply_meta, node_meta, probe
from kaikyo.snapshot.restore.options import RestoreOptions, RestoreResult
from kaikyo.snapshot.restore.paths import make_target, map_oserror, real_dir, replace
from kaikyo.snapshot.restore.reads import _spans, read_spans

# Chunk ids located in the index per call (bounds the temporary arrays of a huge plan).
LOCATE_BATCH = 1 << 16
MAX_WORKERS = 64
U32 = npt.NDArray[np.uint32]


# Left in the target while a restore runs: a rerun of the same restore resumes from it.
MARKER = b".kaikyo-restore-in-progress"


class Plan:
    """Every planned file's chunks as columns, one row per (file, chunk), in walk order.

    ``order`` lists the rows by (pack, offset); ``groups`` are its runs of one pack, as
    (pack number, first, end) into ``order``.
    """

    def __init__(self) -> None:
        empty: U32 = np.zeros(0, dtype=np.uint32)
        self.ids = bytearray()  # 32 bytes per row
        self.blob_type = np.zeros(0, dtype=np.uint8)
        self.pack = self.offset = self.length = self.raw = self.fno = self.order = empty
        self.foff = np.zeros(0, dtype=np.uint64)
        self.groups: list[tuple[int, int, int]] = []

    def blob_id(self, row: int) -> bytes:
        return bytes(self.ids[row * 32 : row * 32 + 32])


class _Pending:
    """A directory walked but not (yet) added to the plan, and the one above it."""

    __slots__ = ("added", "args", "up")

    def __init__(self, args: tuple[bytes, bytes, Node, bytes], up: _Pending | None) -> None:
        self.args = args
        self.up = up
        self.added = False


class Restorer:
    def __init__(self, repo: Repository, opts: RestoreOptions) -> None:
        self.repo = repo
        self.opts = opts
        self.target = opts.target
        self.result = RestoreResult()
        # Files by number, in walk order: directory and name; mode, uid, gid, mtime and size
        # (``f_meta``, five per file); where its chunk rows end (``f_rows``, from 0).
        self.f_parent: list[bytes] = []
        self.f_name: list[bytes] = []
        self.f_meta = array("q")
        self.f_rows = array("I", [0])
        self.f_xattrs: dict[int, Xattrs] = {}
        self.sparse: set[int] = set()
        self.owner = bytearray()  # 0: the main thread; w + 1: worker w
        # Files with more than one link, to find the ones seen before: (dev, inode, number).
        self.linked = (array("Q"), array("Q"), array("I"))
        self.hardlinks: list[tuple[int, bytes]] = []  # (file linked to, path of the link)
        self.dirs: list[bytes] = []
        self.d_meta = array("q")  # mode, uid, gid, mtime
        self.d_xattrs: dict[int, Xattrs] = {}
        # (path, type, symlink target or device number, meta, xattrs)
        self.specials: list[tuple[bytes, str, bytes | int, Meta, Xattrs | None]] = []
        self.plan = Plan()
        self.filter = PathFilter(opts.include, opts.exclude)
        self.filtering = bool(opts.include or opts.exclude)
        self.inodes = Inodes(os.geteuid(), os.getegid(), os.geteuid() == 0)  # set by probe
        self.shares: list[list[int]] = []  # indices into plan.groups
        self.empty_shares: list[list[int]] = []
        # A rerun of an interrupted restore: files already finished (size and mtime as in
        # the snapshot: a file gets its mtime last) are left as they are; others replaced.
        self.resuming = False
        self.kept = 0  # files a resumed restore found finished

    @property
    def files(self) -> int:
        return len(self.f_name)

    def out(self, fno: int) -> bytes:
        return self.f_parent[fno] + b"/" + self.f_name[fno]

    def _check_target(self, identity: dict[str, object]) -> None:
        """Refuse a target that is not a directory, or not empty, unless ``--overwrite``,
        or unless it holds an interrupted run of this very restore, which then resumes."""
        target = self.opts.target
        if not os.path.lexists(target):
            return
        if not real_dir(target):
            raise AlreadyExistsError(f"restore target {os.fsdecode(target)} is not a directory")
        if not os.listdir(target) or self.opts.overwrite:
            self.resuming = self._marker() == identity
            return
        left = self._marker()
        if left == identity:
            self.resuming = True
            return
        if left is not None:
            raise AlreadyExistsError(
                f"restore target {os.fsdecode(target)} holds an interrupted restore of "
                "another snapshot or path",
                "rerun that restore to finish it, choose another directory, or pass --overwrite",
            )
        raise AlreadyExistsError(
            f"restore target {os.fsdecode(target)} is not empty",
            "choose an empty directory, or pass --overwrite to replace files in it",
        )

    def _marker(self) -> dict[str, object] | None:
        try:
            with open(self.opts.target + b"/" + MARKER, "rb") as fh:
                doc = json.loads(fh.read(65536))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def _write_marker(self, identity: dict[str, object]) -> None:
        path = self.opts.target + b"/" + MARKER
        try:
            with open(path, "wb") as fh:
                fh.write(json.dumps(identity, sort_keys=True).encode())
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(path)) from None

    def _remove_marker(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.opts.target + b"/" + MARKER)

    # ---- planning -------------------------------------------------------------------------

    def collect(self, root_tree: str, subpath: bytes) -> None:
        """Walk the snapshot below ``subpath`` and build the plan."""
        _, node, tree = trees.resolve(self.repo, root_tree, subpath)
        # As restic: restoring SNAPSHOT:/a/b puts the contents of /a/b into the target.
        if node is None or tree:
            self._walk(tree or root_tree)
        else:
            name = node_name(node)
            if not self.filtering or self.filter.wanted(b"/" + name, node.get("type") == "dir"):
                self._add(self.target, name, node, self.target + b"/" + name)
        self._find_hardlinks()

    def _walk(self, tree_hex: str) -> None:
        """Depth-first, parents before children, each directory's nodes in tree order (the
        order of :func:`trees.walk`). A directory's path is one object, shared as the parent
        of everything in it.

        A directory that is not wanted itself is still walked (an include such as ``*.conf``
        matches by name, anywhere below), and created, with its metadata, only when something
        inside it is restored, as restic does.
        """
        stack: list[tuple[bytes, bytes, str, _Pending | None]] = [
            (b"", self.target, tree_hex, None)
        ]
        wanted = self.filter.wanted if self.filtering else None
        while stack:
            base, parent, tid, pending = stack.pop()
            subdirs = []
            for node in trees.load_tree(self.repo, tid):
                name = node_name(node)
                is_dir = node.get("type") == "dir"
                out = parent + b"/" + name if is_dir else b""
                below: _Pending | None = None
                if wanted is None or wanted(base + b"/" + name, is_dir):
                    if pending is not None:
                        self._add_pending(pending)
                    self._add(parent, name, node, out)
                elif is_dir:
                    below = _Pending((parent, name, node, out), pending)
                if is_dir and node.get("subtree"):
                    subdirs.append((base + b"/" + name, out, node["subtree"], below))
            stack.extend(reversed(subdirs))

    def _add_pending(self, pending: _Pending) -> None:
        """Add the directories above a wanted node that were not added yet, top down."""
        chain = []
        link: _Pending | None = pending
        while link is not None and not link.added:
            chain.append(link)
            link = link.up
        for item in reversed(chain):
            self._add(*item.args)
            item.added = True

    def _add(self, parent: bytes, name: bytes, n: Node, out: bytes) -> None:
        kind = n.get("type")
        numeric = self.opts.numeric_owner
        if kind == "file":
            fno = len(self.f_name)
            if int(n.get("links", 1)) > 1:
                dev, ino, nos = self.linked
                dev.append(int(n.get("dev", 0)))
                ino.append(int(n.get("inode", 0)))
                nos.append(fno)
            self.f_parent.append(parent)
            self.f_name.append(name)
            self.f_meta.extend(node_meta(n, numeric))
            self.f_meta.append(int(n.get("size", 0)))
            if n.get("xattrs"):
                self.f_xattrs[fno] = n["xattrs"]
            if n.get("sparse"):
                self.sparse.add(fno)
            content = n.get("content")
            if content:
                self.plan.ids += bytes.fromhex("".join(content))
            self.f_rows.append(len(self.plan.ids) >> 5)
        elif kind == "dir":
            if n.get("xattrs"):
                self.d_xattrs[len(self.dirs)] = n["xattrs"]
            self.dirs.append(out)
            self.d_meta.extend(node_meta(n, numeric))
        else:
            path = parent + b"/" + name
            payload: bytes | int = (
                get_bytes(n, "target") or b"" if kind == "symlink" else int(n.get("rdev", 0))
            )
            self.specials.append(
                (path, str(kind), payload, node_meta(n, numeric), n.get("xattrs") or None)
            )

    def _find_hardlinks(self) -> None:
        """A file whose (dev, inode) was seen before becomes a link to the first one: drop it
        from the files, and every later file number shifts down."""
        dev_a, ino_a, nos_a = self.linked
        self.linked = (array("Q"), array("Q"), array("I"))
        if len(nos_a) < 2:
            return
        dev = np.frombuffer(dev_a, dtype=np.uint64)
        ino = np.frombuffer(ino_a, dtype=np.uint64)
        nos = np.frombuffer(nos_a, dtype=np.uint32)
        o = np.lexsort((nos, ino, dev))
        dev, ino, nos = dev[o], ino[o], nos[o]
        again = np.zeros(len(o), dtype=bool)
        again[1:] = (dev[1:] == dev[:-1]) & (ino[1:] == ino[:-1])
        if not again.any():
            return
        # The first of each run of one inode (the lowest file number: seen first).
        first = np.maximum.accumulate(np.where(again, 0, np.arange(len(o))))
        dups, srcs = nos[again], nos[first[again]]
        by_walk = np.argsort(dups, kind="stable")
        dups, srcs = dups[by_walk], srcs[by_walk]
        keep = np.ones(self.files, dtype=bool)
        keep[dups] = False
        # By the numbers before the drop; _keep_files renumbers them with the files.
        self.hardlinks = [
            (int(s), self.out(d)) for s, d in zip(srcs.tolist(), dups.tolist(), strict=True)
        ]
        self._keep_files(keep)

    def _locate(self) -> None:
        """Find every chunk in the index; each row's offset in its file; the pack order."""
        plan = self.plan
        nrows = len(plan.ids) >> 5
        blob_type = np.zeros(nrows, dtype=np.uint8)
        pack, offset, length, raw = (np.zeros(nrows, dtype=np.uint32) for _ in range(4))
        index = self.repo.index
        with memoryview(plan.ids) as view:
            for lo in range(0, nrows, LOCATE_BATCH):
                hi = min(nrows, lo + LOCATE_BATCH)
                loc = index.locate_many(view[lo * 32 : hi * 32])
                if not loc.found.all():
                    bid = plan.blob_id(lo + int(np.flatnonzero(~loc.found)[0]))
                    self.repo.blob_location(bid)  # raises the error a lookup raises
                    raise IntegrityError(f"blob {bid.hex()[:8]} is missing from the index")
                blob_type[lo:hi] = loc.blob_type
                pack[lo:hi] = loc.pack
                offset[lo:hi] = loc.offset
                length[lo:hi] = loc.length
                raw[lo:hi] = loc.raw_length
        starts = np.frombuffer(self.f_rows, dtype=np.uint32)
        fno = np.repeat(np.arange(self.files, dtype=np.uint32), np.diff(starts))
        ends = np.zeros(nrows + 1, dtype=np.uint64)
        np.cumsum(raw, out=ends[1:])
        plan.foff = ends[:-1] - ends[starts[:-1]][fno]
        del ends
        order = np.lexsort((offset, pack)).astype(np.uint32)
        by_pack = pack[order]
        cuts = (np.flatnonzero(by_pack[1:] != by_pack[:-1]) + 1).tolist()
        if nrows:
            plan.groups = [
                (int(by_pack[a]), a, b) for a, b in zip([0, *cuts], [*cuts, nrows], strict=True)
            ]
        plan.blob_type, plan.pack, plan.offset, plan.length, plan.raw = (
            blob_type,
            pack,
            offset,
            length,
            raw,
        )
        plan.fno, plan.order = fno, order

    # ---- running --------------------------------------------------------------------------

    def run(self, root_tree: str, subpath: bytes = b"/") -> RestoreResult:
        identity: dict[str, object] = {
            "tree": root_tree,
            "path": os.fsdecode(subpath),
            "include": list(self.opts.include),
            "exclude": list(self.opts.exclude),
        }
        self._check_target(identity)
        # A bad path or a blob that is not stored fails here, before anything is created.
        self.collect(root_tree, subpath)
        if self.resuming:
            self._skip_finished()
        self._locate()
        make_target(self.target)
        self._write_marker(identity)
        self.inodes = probe(self.target, self._replacing())
        self._make_dirs()
        self._assign()
        self._prepare_shared_files()
        self._write_data()
        for fno in range(self.files):
            if not self.owner[fno]:
                self._finish_file(fno)
        for first, dst in self.hardlinks:
            replace(dst, self._replacing())
            try:
                os.link(self.out(first), dst)
            except OSError as exc:
                raise map_oserror(exc, os.fsdecode(dst)) from None
            self.result.links += 1
        for special in self.specials:
            self._special(*special)
        self._remove_marker()
        depth = [d.count(b"/") for d in self.dirs]
        for i in sorted(range(len(self.dirs)), key=depth.__getitem__, reverse=True):
            m, out = self.d_meta, self.dirs[i]
            meta = (m[4 * i], m[4 * i + 1], m[4 * i + 2], m[4 * i + 3])
            apply_meta(
                out,
                meta,
                self.d_xattrs.get(i),
                self.inodes.chown(meta),
                True,
                self.result.warnings,
                out,
            )
        self.result.files = self.files + self.kept
        self.result.dirs = len(self.dirs)
        self.result.resumed = self.resuming
        self.result.kept = self.kept
        if self.opts.verify:
            self.result.verified = self._verify() + self.kept
        return self.result

    def _finished(self, fno: int) -> bool:
        m = self.f_meta
        try:
            st = os.lstat(self.out(fno))
        except OSError:
            return False
        return (
            stat.S_ISREG(st.st_mode)
            and st.st_size == m[fno * 5 + 4]
            and st.st_mtime_ns == m[fno * 5 + 3]
        )

    def _skip_finished(self) -> None:
        """Drop the files a resumed restore finished before it was cut (kept as they are),
        so the rerun reads only what is missing. Files other files are hard links to stay."""
        sources = {first for first, _ in self.hardlinks}
        keep = np.array(
            [fno in sources or not self._finished(fno) for fno in range(self.files)], dtype=bool
        )
        if keep.all():
            return
        self.kept = int((~keep).sum())
        self._keep_files(keep)

    def _keep_files(self, keep: npt.NDArray[np.bool_]) -> None:
        """Keep only the files where ``keep`` is set (before :meth:`_locate`); file numbers
        shift down, and every column that names files follows."""
        renumber = np.cumsum(keep) - 1
        starts = np.frombuffer(self.f_rows, dtype=np.uint32)
        counts = np.diff(starts)
        rows = np.repeat(keep, counts)
        ids = np.frombuffer(self.plan.ids, dtype=np.uint8).reshape(-1, 32)
        self.plan.ids = bytearray(ids[rows].tobytes())
        del ids
        self.f_rows = array("I", [0])
        self.f_rows.frombytes(np.cumsum(counts[keep], dtype=np.uint32).tobytes())
        meta = np.frombuffer(self.f_meta, dtype=np.int64).reshape(-1, 5)
        self.f_meta = array("q", meta[keep].tobytes())
        kept = keep.tolist()
        self.f_parent = [p for p, k in zip(self.f_parent, kept, strict=True) if k]
        self.f_name = [n for n, k in zip(self.f_name, kept, strict=True) if k]
        self.f_xattrs = {int(renumber[f]): x for f, x in self.f_xattrs.items() if kept[f]}
        self.sparse = {int(renumber[f]) for f in self.sparse if kept[f]}
        self.hardlinks = [(int(renumber[s]), d) for s, d in self.hardlinks]

    def _replacing(self) -> bool:
        return self.opts.overwrite or self.resuming

    def _make_dirs(self) -> None:
        # Walk order puts parents first, so plain mkdir suffices; makedirs only as a fallback.
        for out in self.dirs:
            try:
                os.mkdir(out, 0o700)
            except FileExistsError:
                if not real_dir(out):
                    # A file, or a symlink (to a directory too): never written through.
                    if not self._replacing():
                        raise AlreadyExistsError(f"{os.fsdecode(out)} exists") from None
                    try:
                        os.unlink(out)
                        os.mkdir(out, 0o700)
                    except OSError as exc:
                        raise map_oserror(exc, os.fsdecode(out)) from None
            except FileNotFoundError:
                os.makedirs(out, 0o700, exist_ok=True)
            except OSError as exc:
                raise map_oserror(exc, os.fsdecode(out)) from None

    def _assign(self) -> None:
        """Share packs among workers by bytes; give each single-pack file to its pack's worker,
        and the empty files round the workers."""
        plan = self.plan
        groups = plan.groups
        n = max(1, min(self.opts.workers, len(groups), MAX_WORKERS))
        self.shares = [[] for _ in range(n)]
        self.empty_shares = [[] for _ in range(n)]
        owner = np.zeros(self.files, dtype=np.uint8)
        starts = np.frombuffer(self.f_rows, dtype=np.uint32)
        counts = np.diff(starts)
        if groups:
            o = plan.order
            by_pack, by_offset = plan.pack[o], plan.offset[o]
            new = np.ones(len(o), dtype=bool)  # the first row of each distinct chunk
            new[1:] = (by_pack[1:] != by_pack[:-1]) | (by_offset[1:] != by_offset[:-1])
            firsts = np.array([g[1] for g in groups], dtype=np.int64)
            blobs = np.add.reduceat(new.astype(np.int64), firsts).tolist()
            nbytes = np.add.reduceat(
                np.where(new, plan.length[o], 0).astype(np.int64), firsts
            ).tolist()
            del by_pack, by_offset, new
            worker_of = np.zeros(int(plan.pack.max()) + 1, dtype=np.uint8)
            loads = [0] * n
            for g in sorted(range(len(groups)), key=blobs.__getitem__, reverse=True):
                w = loads.index(min(loads))
                self.shares[w].append(g)
                worker_of[groups[g][0]] = w
                loads[w] += nbytes[g] + 4096 * blobs[g]
            filled = np.flatnonzero(counts)
            low = np.minimum.reduceat(plan.pack, starts[filled])
            high = np.maximum.reduceat(plan.pack, starts[filled])
            one = low == high
            owner[filled[one]] = worker_of[low[one]] + 1
        empty = np.flatnonzero(counts == 0)
        owner[empty] = empty % n + 1
        for fno in self.sparse:
            owner[fno] = 0
        for fno in empty.tolist():
            if fno not in self.sparse:
                self.empty_shares[fno % n].append(fno)
        self.owner = bytearray(owner.tobytes())

    def _prepare_shared_files(self) -> None:
        """Create the files written by several workers (or sparse) before data arrives."""
        owner = self.owner
        for fno in range(self.files):
            if owner[fno]:
                replace(self.out(fno), self._replacing())
                continue
            out = self.out(fno)
            replace(out, self._replacing())
            try:
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                try:
                    if fno in self.sparse:
                        os.ftruncate(fd, self.f_meta[fno * 5 + 4])
                finally:
                    os.close(fd)
            except OSError as exc:
                raise map_oserror(exc, os.fsdecode(out)) from None

    def _write_data(self) -> None:
        """Share 0 runs in this thread, the others in worker threads. A failure stops the
        others before their next read; the first (this thread's first) is raised once all
        have stopped."""
        n = len(self.shares)
        stop = threading.Event()
        outcome: list[tuple[int, list[str]] | BaseException | None] = [None] * n

        def work(w: int) -> None:
            try:
                outcome[w] = self._write_share(w, stop)
            except BaseException as exc:  # re-raised below, in the main thread
                stop.set()
                outcome[w] = exc

        threads = [
            threading.Thread(target=work, args=(w,), name=f"kaikyo-restore-{w}", daemon=True)
            for w in range(1, n)
        ]
        for t in threads:
            t.start()
        try:
            work(0)
        finally:
            for t in threads:
                t.join()
        for item in outcome:
            if isinstance(item, BaseException):
                raise item
        for item in outcome:
            if isinstance(item, tuple):
                self.result.bytes += item[0]
                self.result.warnings += item[1]

    def _write_share(self, w: int, stop: threading.Event) -> tuple[int, list[str]]:
        """Worker ``w``'s part: its packs' chunks, and the files it owns created and finished.

        Returns (bytes written, warnings).
        """
        warnings: list[str] = []
        written = 0
        for fno in self.empty_shares[w]:
            out = self.out(fno)
            try:
                fd = os.open(out, _CREATE, self.inodes.create_mode(self.f_meta[fno * 5]))
            except OSError as exc:
                raise map_oserror(exc, os.fsdecode(out)) from None
            try:
                self._finish_owned(fd, fno, warnings)
            finally:
                os.close(fd)
        for g in self.shares[w]:
            if stop.is_set():
                break
            try:
                written += self._write_pack(g, w + 1, stop, warnings)
            except OSError as exc:
                raise map_oserror(exc, "file data") from None
        return written, warnings

    def _finish_owned(self, fd: int, fno: int, warnings: list[str]) -> None:
        """Metadata of a file created with :meth:`_create_mode`, by its open descriptor."""
        m = self.f_meta
        i = fno * 5
        meta = (m[i], m[i + 1], m[i + 2], m[i + 3])
        chown = self.inodes.chown(meta)
        chmod = self.inodes.chmod(meta[0])
        xattrs = self.f_xattrs.get(fno)
        if chown or chmod or xattrs:
            apply_meta(fd, meta, xattrs, chown, chmod, warnings, self.out(fno))
            return
        try:
            os.utime(fd, ns=(meta[3], meta[3]))
        except (OSError, NotImplementedError):
            pass

    def _write_pack(self, g: int, me: int, stop: threading.Event, warnings: list[str]) -> int:
        """Write the chunks pack group ``g`` holds, span by span; create the files worker
        ``me - 1`` owns as their first chunk arrives and finish each after its last."""
        plan = self.plan
        repo = self.repo
        cipher, compressor = repo.cipher, repo.compressor
        pno, first, end = plan.groups[g]
        pack_id = repo.index.pack_id(pno)
        sel = plan.order[first:end]
        rows, offs, lens, raws, types, fnos, foffs = (
            sel.tolist(),
            plan.offset[sel].tolist(),
            plan.length[sel].tolist(),
            plan.raw[sel].tolist(),
            plan.blob_type[sel].tolist(),
            plan.fno[sel].tolist(),
            plan.foff[sel].tolist(),
        )
        del sel
        owner, sparse, f_rows, ids = self.owner, self.sparse, self.f_rows, plan.ids
        parents, names = self.f_parent, self.f_name
        fds: dict[int, int] = {}
        left: dict[int, int] = {}  # chunks still to write of the open files this worker owns
        written = 0
        try:
            spans = takewhile(lambda _: not stop.is_set(), _spans(offs, lens))
            for (i, j, lo, _), data in read_spans(repo, pack_id, spans):
                at = -1
                plain = b""
                for k in range(i, j):
                    o = offs[k]
                    if o != at:  # rows of one chunk (written to several places) are adjacent
                        at = o
                        row = rows[k]
                        bid = bytes(ids[row * 32 : row * 32 + 32])
                        plain = open_blob(
                            cipher,
                            compressor,
                            types[k],
                            bid,
                            data[o - lo : o - lo + lens[k]],
                            raws[k],
                        )
                        if len(plain) != raws[k]:
                            raise IntegrityError(f"blob {bid.hex()[:8]} has the wrong length")
                    fno = fnos[k]
                    fd = fds.get(fno)
                    if fd is None:
                        path = parents[fno] + b"/" + names[fno]
                        if owner[fno] == me:
                            fd = os.open(
                                path, _CREATE, self.inodes.create_mode(self.f_meta[fno * 5])
                            )
                            left[fno] = f_rows[fno + 1] - f_rows[fno]
                        else:
                            fd = os.open(path, _REOPEN)
                        fds[fno] = fd
                    if fno in sparse:
                        _pwrite_sparse(fd, plain, foffs[k])
                    else:
                        os.pwrite(fd, plain, foffs[k])
                    written += raws[k]
                    if fno in left:
                        left[fno] -= 1
                        if not left[fno]:
                            del left[fno], fds[fno]
                            try:
                                self._finish_owned(fd, fno, warnings)
                            finally:
                                os.close(fd)
                del data, plain
        finally:
            for fd in fds.values():
                os.close(fd)
        return written

    def _finish_file(self, fno: int) -> None:
        out = self.out(fno)
        m = self.f_meta
        i = fno * 5
        with contextlib.suppress(OSError):
            if os.lstat(out).st_size != m[i + 4]:
                os.truncate(out, m[i + 4])
        meta = (m[i], m[i + 1], m[i + 2], m[i + 3])
        apply_meta(
            out,
            meta,
            self.f_xattrs.get(fno),
            self.inodes.chown(meta),
            True,
            self.result.warnings,
            out,
        )

    def _special(
        self, out: bytes, kind: str, payload: bytes | int, meta: Meta, xattrs: Xattrs | None
    ) -> None:
        replace(out, self._replacing())
        try:
            if kind == "symlink":
                assert isinstance(payload, bytes)
                os.symlink(payload, out)
            elif kind == "fifo":
                os.mkfifo(out, 0o600)
            elif kind in ("chardev", "blockdev"):
                flag = stat.S_IFCHR if kind == "chardev" else stat.S_IFBLK
                os.mknod(out, flag | 0o600, int(payload))
            else:
                self.result.warnings.append(f"{os.fsdecode(out)}: {kind} not restored")
                return
        except PermissionError:
            self.result.warnings.append(f"{os.fsdecode(out)}: no permission to create {kind}")
            return
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(out)) from None
        self.result.other += 1
        apply_meta(
            out,
            meta,
            xattrs,
            self.inodes.chown(meta),
            True,
            self.result.warnings,
            out,
            symlink=kind == "symlink",
        )

    def _verify(self) -> int:
        """Re-read every restored file and check each chunk against its blob id."""
        bad = []
        plan = self.plan
        raws = plan.raw.tolist()
        f_rows = self.f_rows
        hasher = self.repo.hasher
        for fno in range(self.files):
            out = self.out(fno)
            try:
                fd = os.open(out, os.O_RDONLY)
            except OSError as exc:
                bad.append(f"{os.fsdecode(out)}: {exc.strerror}")
                continue
            try:
                for row in range(f_rows[fno], f_rows[fno + 1]):
                    raw_len = raws[row]
                    data = os.read(fd, raw_len)
                    while len(data) < raw_len:
                        more = os.read(fd, raw_len - len(data))
                        if not more:
                            break
                        data += more
                    if hasher(data) != plan.blob_id(row):
                        bad.append(f"{os.fsdecode(out)}: content differs from the snapshot")
                        break
            finally:
                os.close(fd)
        if bad:
            raise IntegrityError(f"verification failed for {len(bad)} file(s): {bad[0]}")
        return self.files


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
_REOPEN = os.O_WRONLY | os.O_NOFOLLOW


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


def run_restore(
    repo: Repository, root_tree: str, subpath: bytes, opts: RestoreOptions
) -> RestoreResult:
    return Restorer(repo, opts).run(root_tree, subpath)
