"""Backup: walk -> (files cache | workers) -> trees -> snapshot.

The main process walks depth-first. Files the files cache vouches for are settled on the
spot; the others go in batches to the worker processes, completed in the order they were
made. A directory counts what it still waits for (its files in batches, its subdirectories
not yet saved); when the walk has left it and the count is zero, its tree is serialised and
saved at once, and its parent's count goes down. So memory holds the directories on the
walk's path and those waiting for a batch in flight, whose number is bounded: it grows
neither with the size of the tree nor with how far the walk runs ahead of a slow batch (an
incremental backup whose only changed file comes first settles everything behind it).
"""

from __future__ import annotations

import fnmatch
import os
import socket
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kaikyo import __version__
from kaikyo.core.format.tree import Node, encode_tree, put_bytes
from kaikyo.errors import NotFoundError
from kaikyo.repo import Repository
from kaikyo.snapshot import filescache
from kaikyo.snapshot.fs import DIR, FILE, make_node, node_type
from kaikyo.snapshot.pool import WorkerPool

BATCH_FILES = 256
BATCH_BYTES = 16 * 1024 * 1024
# A batch still filling is sent anyway once the walk has gone this many entries past its
# first file: when few files changed, a batch would otherwise fill slowly, and the
# directories waiting for it (and above them) would be held in memory all that time.
BATCH_MAX_AGE = 2048


class BackupProgress(Protocol):
    def file_done(self, path: bytes, size: int, cached: bool) -> None: ...

    def error(self, path: bytes, message: str) -> None: ...


class NullProgress:
    def file_done(self, path: bytes, size: int, cached: bool) -> None:
        pass

    def error(self, path: bytes, message: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class BackupOptions:
    paths: tuple[bytes, ...]
    time: float
    excludes: tuple[str, ...] = ()
    one_file_system: bool = False
    tags: tuple[str, ...] = ()
    host: str = field(default_factory=socket.gethostname)
    user: str = ""
    dry_run: bool = False
    workers: int = 2
    max_in_flight: int = 2  # packs uploading at once per worker (each up to pack_size)
    cache_file: Path | None = None


@dataclass
class BackupResult:
    snapshot_id: str | None
    summary: dict[str, Any]
    errors: list[dict[str, str]]
    tree: str
    # Why the files cache could not be saved (the next backup then reads every file again).
    cache_problem: str | None = None


class _Dir:
    __slots__ = ("cached", "entries", "node", "parent", "path", "waits_for", "walked")

    def __init__(self, node: Node, path: bytes, parent: _Dir | None) -> None:
        self.node = node
        self.path = path
        self.parent = parent
        self.entries: list[Node] = []
        # Files-cache records of this directory's files, joined into one value by _complete_dir.
        self.cached: list[bytes] = []
        self.waits_for = 0  # its files in batches, and its subdirectories not yet saved
        self.walked = False  # the walk has left it: no more entries will come


class _Level(dict[bytes, Any]):
    """A directory above the backed-up paths (distinct from a node, which is a plain dict)."""


class _Batch:
    __slots__ = ("batch_id", "bytes", "files", "nodes", "opened_at", "submitted", "worker")

    def __init__(self, batch_id: int, worker: int, opened_at: int) -> None:
        self.batch_id = batch_id
        self.worker = worker
        self.opened_at = opened_at  # entries walked when its first file came
        self.files: list[tuple[bytes, int]] = []
        # node, name, path, stat, was in the old cache, where its new cache record goes, and
        # its directory (None for a file given as a backup path)
        self.nodes: list[
            tuple[Node, bytes, bytes, os.stat_result, bool, list[bytes], _Dir | None]
        ] = []
        self.bytes = 0
        self.submitted = False


class Backup:
    def __init__(self, repo: Repository, opts: BackupOptions, progress: BackupProgress) -> None:
        self.repo = repo
        self.opts = opts
        self.progress = progress
        # The files cache (see filescache): the old one is read a directory at a time as the
        # walk enters it, the new one written a directory at a time as the walk finishes it.
        self.old_cache = filescache.OldCache()
        self.new_cache = filescache.NewCache(None)
        # Files given as backup paths are filed under their parent directory.
        self.top_old: dict[bytes, dict[bytes, filescache.Entry]] = {}
        self.top_new: dict[bytes, list[bytes]] = {}
        self.queue: deque[_Batch] = deque()
        # One open batch per worker: files are routed by size (see _file).
        self.current: dict[int, _Batch] = {}
        self.next_batch = 0
        self.held_nodes = 0  # entries of directories not yet saved: what the walk holds
        self.entries_walked = 0  # entries walked so far (see BATCH_MAX_AGE)
        self.errors: list[dict[str, str]] = []
        self.counts = {
            "files_new": 0,
            "files_changed": 0,
            "files_unmodified": 0,
            "dirs": 0,
            "other": 0,
            "bytes_total": 0,
            "bytes_read": 0,
        }
        self.writer = repo.writer(opts.max_in_flight, dry_run=opts.dry_run)
        self.pool: WorkerPool | None = None
        self.excludes = opts.excludes
        self._since_poll = 0

    # ---- the walk -----------------------------------------------------------------------

    def _excluded(self, path: bytes, name: bytes) -> bool:
        if not self.excludes:
            return False
        p = os.fsdecode(path)
        n = os.fsdecode(name)
        return any(
            fnmatch.fnmatchcase(p, pat) or fnmatch.fnmatchcase(n, pat) for pat in self.excludes
        )

    def _error(self, path: bytes, message: str) -> None:
        self.errors.append({"path": os.fsdecode(path), "error": message})
        self.progress.error(path, message)

    def _listdir(self, path: bytes) -> list[bytes]:
        """The names in a directory, last first: the walk pops them, so a name it has passed
        is freed (a directory of 100,000 entries is not held whole while its subtrees are
        walked). Each entry is lstat'ed once anyway, so a DirEntry would save nothing."""
        try:
            return sorted(os.listdir(path), reverse=True)
        except OSError as exc:
            self._error(path, f"cannot list directory: {exc.strerror}")
            return []

    def walk_top(self, path: bytes) -> Node | None:
        try:
            st = os.lstat(path)
        except OSError as exc:
            self._error(path, f"cannot read: {exc.strerror}")
            return None
        kind = node_type(st.st_mode)
        if kind is None:
            return None
        node = make_node(os.path.basename(path) or b"/", path, st, kind)
        if kind == FILE:
            parent, name = os.path.split(path)
            old = self.top_old.get(parent)
            if old is None:
                old = self.top_old[parent] = self._old_files(parent)
            self._file(node, name, path, st, old, self.top_new.setdefault(parent, []), None)
        elif kind == DIR:
            self._walk_dir(node, path, st.st_dev)
        return node

    def _walk_dir(self, top_node: Node, top_path: bytes, root_dev: int) -> None:
        top = _Dir(top_node, top_path, None)
        self.counts["dirs"] += 1
        # (directory, names left, its old files cache, its path with a trailing "/")
        stack = [(top, self._listdir(top_path), self._old_files(top_path), _slash(top_path))]
        while stack:
            rec, names, old, prefix = stack[-1]
            if not names:
                stack.pop()
                rec.walked = True
                self._settle(rec)
                self._pump()
                continue
            name = names.pop()
            full = prefix + name  # os.path.join costs a Python call per entry
            if self._excluded(full, name):
                continue
            try:
                st = os.lstat(full)
                kind = node_type(st.st_mode)
                if kind is None:
                    continue
                node = make_node(name, full, st, kind)
            except OSError as exc:
                self._error(full, f"cannot read: {exc.strerror}")
                continue
            rec.entries.append(node)
            self.held_nodes += 1
            self.entries_walked += 1
            if kind == DIR:
                self.counts["dirs"] += 1
                child = _Dir(node, full, rec)
                rec.waits_for += 1
                if self.opts.one_file_system and st.st_dev != root_dev:
                    child.walked = True  # a mount point: kept, its contents are not
                    self._settle(child)
                    continue
                stack.append((child, self._listdir(full), self._old_files(full), full + b"/"))
            elif kind == FILE:
                self._file(node, name, full, st, old, rec.cached, rec)
            else:
                self.counts["other"] += 1

    def _old_files(self, dir_path: bytes) -> dict[bytes, filescache.Entry]:
        """The old files cache of one directory (name -> entry), taken out of the old cache."""
        return self.old_cache.take(dir_path)

    def _file(
        self,
        node: Node,
        name: bytes,
        path: bytes,
        st: os.stat_result,
        old: dict[bytes, filescache.Entry],
        new: list[bytes],
        owner: _Dir | None,
    ) -> None:
        """``old``: the old cache of the file's directory; ``new``: where its record goes;
        ``owner``: its directory, which waits for it if it goes to a worker."""
        self.counts["bytes_total"] += st.st_size
        cached = old.get(name)
        if cached is not None and self._unchanged(cached, st):
            raw = filescache.blob_ids(cached)
            node["content"] = [raw[i : i + 32].hex() for i in range(0, len(raw), 32)]
            new.append(filescache.record(name, cached))
            self.counts["files_unmodified"] += 1
            self.progress.file_done(path, st.st_size, True)
            return
        # Identical files have identical sizes: routing by size sends them to the same worker,
        # whose own set of stored blobs then deduplicates them (workers share no memory). A
        # tree of equal-sized files would then load one worker only, so a worker that is two
        # batches ahead of the idlest one gives way (rarely costing a duplicate blob).
        assert self.pool is not None
        worker = self.pool.route(st.st_size)
        batch = self.current.get(worker)
        if batch is None:
            batch = self.current[worker] = _Batch(self.next_batch, worker, self.entries_walked)
            self.next_batch += 1
            self.queue.append(batch)
        batch.files.append((path, st.st_size))
        batch.nodes.append((node, name, path, st, cached is not None, new, owner))
        if owner is not None:
            owner.waits_for += 1
        batch.bytes += st.st_size
        if len(batch.files) >= BATCH_FILES or batch.bytes >= BATCH_BYTES:
            self._submit(batch)
        self._pump()

    def _unchanged(self, cached: filescache.Entry, st: os.stat_result) -> bool:
        """Same size, times and inode, and every blob still in the repository."""
        if not filescache.matches(cached, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino):
            return False
        raw = filescache.blob_ids(cached)
        if len(raw) == 32:
            return raw in self.repo.index
        return all(self.repo.index.contains_many([raw[i : i + 32] for i in range(0, len(raw), 32)]))

    # ---- the FIFO -----------------------------------------------------------------------

    def _submit(self, batch: _Batch) -> None:
        assert self.pool is not None
        self.pool.submit(batch.batch_id, batch.files, batch.worker, self.counts["bytes_total"])
        batch.submitted = True
        if self.current.get(batch.worker) is batch:
            del self.current[batch.worker]

    def _pump(self, drain: bool = False) -> None:
        """Complete batches at the front of the queue: those ready, or all if the window is
        full (or ``drain``)."""
        assert self.pool is not None
        window = 3 * self.pool.size
        for batch in list(self.current.values()):
            if self.entries_walked - batch.opened_at >= BATCH_MAX_AGE:
                self._submit(batch)
        while self.queue:
            front = self.queue[0]
            must_wait = drain or self.pool.in_flight() >= window
            if not front.submitted:
                if not must_wait and self.current.get(front.worker) is front:
                    return  # still filling
                self._submit(front)
            if not must_wait:
                # Looking at the pipes costs a syscall per worker: not on every file.
                self._since_poll += 1
                if self._since_poll < 64:
                    return
                self._since_poll = 0
                self.pool.poll(0)
                if not self.pool.ready(front.batch_id):
                    return
            self.queue.popleft()
            self._complete_batch(front, self.pool.result(front.batch_id))

    def _complete_batch(self, batch: _Batch, results: list[Any]) -> None:
        owners = []
        for (node, name, path, st, was_cached, new, owner), result in zip(
            batch.nodes, results, strict=True
        ):
            if owner is not None:
                owners.append(owner)
            if isinstance(result, str):
                node["_error"] = True
                self._error(path, f"cannot read: {result}")
                continue
            ids, size_read = result
            node["content"] = [i.hex() for i in ids]
            if size_read != st.st_size:
                node["size"] = size_read  # changed while read: record what was stored
            else:
                new.append(
                    filescache.record(
                        name,
                        filescache.make_entry(
                            st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, b"".join(ids)
                        ),
                    )
                )
            self.counts["files_changed" if was_cached else "files_new"] += 1
            self.counts["bytes_read"] += size_read
            self.progress.file_done(path, size_read, False)
        for owner in owners:
            owner.waits_for -= 1
            self._settle(owner)

    def _settle(self, rec: _Dir | None) -> None:
        """Save ``rec``'s tree if nothing is left to wait for, then its parent's, and up."""
        while rec is not None and rec.walked and rec.waits_for == 0:
            self._complete_dir(rec)
            rec = rec.parent
            if rec is not None:
                rec.waits_for -= 1

    def _complete_dir(self, rec: _Dir) -> None:
        nodes = [n for n in rec.entries if not n.get("_error")]
        rec.node["subtree"] = self._save_tree(nodes)
        self.held_nodes -= len(rec.entries)
        rec.entries = []
        if rec.cached:
            self.new_cache.add(rec.path, b"".join(rec.cached))
            rec.cached = []

    def _save_tree(self, nodes: list[Node]) -> str:
        return self.writer.save_tree(encode_tree(nodes)).hex()

    # ---- the whole run ------------------------------------------------------------------

    def run(self, parent: str | None) -> BackupResult:
        try:
            return self._run(parent)
        finally:
            self.new_cache.discard()  # after a commit, nothing is left to discard
            self.old_cache.close()

    def _run(self, parent: str | None) -> BackupResult:
        paths = _normalise(self.opts.paths)
        self.old_cache = filescache.OldCache.open(self.opts.cache_file)
        # With a files cache, few files are likely to need reading: the main process reads
        # them itself until that proves untrue (see kaikyo.snapshot.pool.INLINE_SHARE).
        self.pool = WorkerPool(
            self.repo,
            self.opts.workers,
            self.opts.dry_run,
            self.opts.max_in_flight,
            self.writer.pack_done,
            inline=len(self.old_cache) > 0,
        )
        try:
            if not self.opts.dry_run:
                self.new_cache = filescache.NewCache(self.opts.cache_file)
            tops = []
            for path in paths:
                node = self.walk_top(path)
                if node is not None:
                    tops.append((path, node))
            if not tops:
                # Nothing to save: an empty snapshot would become 'latest' and hide the last
                # real one from whoever restores 'latest'.
                shown = ", ".join(os.fsdecode(p) for p in paths)
                raise NotFoundError(
                    f"none of the paths to back up could be read: {shown}",
                    "check the paths; nothing was saved",
                )
            self._pump(drain=True)
            self.pool.finish()
        except BaseException:
            self.pool.abort()
            self.writer.close()  # drops the trees' unfinished pack
            raise
        for dir_path, records in self.top_new.items():
            if records:  # a parent is never also walked (_normalise drops paths inside paths)
                self.new_cache.add(dir_path, b"".join(records))
        self.top_old.clear()
        root = self._upper_trees(tops)
        stats = self.pool.stats
        summary = dict(self.counts)
        summary.update(
            {
                "data_blobs": sum(s["blobs_new"] for s in stats),
                "data_added": sum(s["bytes_new"] for s in stats),
                "data_stored": sum(s["bytes_stored"] for s in stats),
                "errors": len(self.errors),
            }
        )
        if self.opts.dry_run:
            self.writer.close()
            return BackupResult(None, summary, self.errors, root)
        try:
            self.writer.flush()
        finally:
            self.writer.close()
        doc = {
            "time": self.opts.time,
            "hostname": self.opts.host,
            "username": self.opts.user,
            "paths": [os.fsdecode(p) for p in paths],
            "tags": list(self.opts.tags),
            "tree": root,
            "parent": parent,
            "excludes": list(self.opts.excludes),
            "program": f"kaikyo {__version__}",
            "summary": summary,
            "errors": self.errors,
        }
        sid = self.repo.save_snapshot(doc)
        # The new cache becomes the cache only once the snapshot naming its blobs is saved.
        self.new_cache.carry_over(self.old_cache)
        self.new_cache.commit()
        return BackupResult(sid, summary, self.errors, root, self.new_cache.problem)

    def _upper_trees(self, tops: list[tuple[bytes, Node]]) -> str:
        """Build the directories above the backed-up paths, mirroring their absolute paths."""
        tree = _Level()
        for path, node in tops:
            if node.get("_error"):
                continue
            parts = [p for p in path.split(b"/") if p]
            if not parts:  # "/" itself: its tree is the root
                return str(node["subtree"])
            level = tree
            for part in parts[:-1]:
                level = level.setdefault(part, _Level())
                if not isinstance(level, _Level):
                    break
            else:
                level[parts[-1]] = node
        return self._save_level(tree, b"")

    def _save_level(self, level: _Level, prefix: bytes) -> str:
        nodes = []
        for name in sorted(level):
            child = level[name]
            full = prefix + b"/" + name
            if isinstance(child, _Level):
                try:
                    st = os.lstat(full)
                    node = make_node(name, full, st, DIR)
                except OSError:
                    node = {"type": DIR, "mode": 0o755}
                    put_bytes(node, "name", name)
                node["subtree"] = self._save_level(child, full)
                nodes.append(node)
            else:
                nodes.append(child)
        return self._save_tree(nodes)


def _slash(path: bytes) -> bytes:
    return path if path.endswith(b"/") else path + b"/"


def _normalise(paths: tuple[bytes, ...]) -> list[bytes]:
    """Absolute, normalised, de-duplicated; a path inside another given path is dropped."""
    absolute = sorted({os.path.normpath(os.path.abspath(p)) for p in paths})
    out: list[bytes] = []
    for p in absolute:
        if any(p == q or p.startswith(q.rstrip(b"/") + b"/") for q in out):
            continue
        out.append(p)
    return out


def run_backup(
    repo: Repository,
    opts: BackupOptions,
    progress: BackupProgress | None = None,
    parent: str | None = None,
) -> BackupResult:
    """Back up ``opts.paths`` into ``repo`` (index already loaded, lock already held)."""
    return Backup(repo, opts, progress or NullProgress()).run(parent)
