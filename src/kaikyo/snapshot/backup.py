"""Backup: walk -> (files cache | readers) -> trees -> snapshot.

This module runs a backup from its options to its snapshot; the rooms it drives each have one
job: :mod:`~kaikyo.snapshot.walk` (the walk and the files cache's verdict per file),
:mod:`~kaikyo.snapshot.stream` (standard input or a command's output instead of paths),
:mod:`~kaikyo.snapshot.batching` (files to read, in batches, to the readers),
:mod:`~kaikyo.snapshot.pool` and :mod:`~kaikyo.snapshot.workers` (the readers),
:mod:`~kaikyo.snapshot.treebuild` (directories saved as they settle), and the repository's
write session, which seals and packs every blob (:class:`kaikyo.repo.RepositoryWriter`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaikyo import __version__
from kaikyo.errors import NotFoundError
from kaikyo.repo import Repository, WriteTuning
from kaikyo.snapshot import filescache
from kaikyo.snapshot.batching import Batcher
from kaikyo.snapshot.dirtags import DirTags, TagFile
from kaikyo.snapshot.filters import ExcludeMatcher
from kaikyo.snapshot.pool import WorkerPool
from kaikyo.snapshot.stream import StreamSource, read_stream
from kaikyo.snapshot.tally import BackupProgress, NullProgress, Tally
from kaikyo.snapshot.treebuild import TreeBuilder
from kaikyo.snapshot.walk import Walker, WalkRules
from kaikyo.snapshot.workers import data_chunker

__all__ = [
    "Backup",
    "BackupOptions",
    "BackupProgress",
    "BackupResult",
    "NullProgress",
    "StreamSource",
    "normalise_paths",
    "run_backup",
]


@dataclass(frozen=True, slots=True)
class BackupOptions:
    paths: tuple[bytes, ...]
    time: float
    excludes: tuple[str, ...] = ()
    iexcludes: tuple[str, ...] = ()  # as excludes, ignoring case
    one_file_system: bool = False
    tags: tuple[str, ...] = ()
    host: str = field(default_factory=socket.gethostname)
    user: str = ""
    dry_run: bool = False
    workers: int = 2
    max_in_flight: int = 2  # packs uploading at once per worker (each up to pack_size)
    cache_file: Path | None = None
    stream: StreamSource | None = None  # back up this instead of ``paths`` (--stdin)
    tag_files: tuple[TagFile, ...] = ()  # --exclude-if-present, --exclude-caches
    max_file_size: int | None = None  # --exclude-larger-than, in bytes
    # Save no snapshot when the root tree is the one ``run_backup`` is given as unchanged.
    skip_if_unchanged: bool = False
    tuning: WriteTuning = field(default_factory=WriteTuning)  # --compression, --pack-size


@dataclass
class BackupResult:
    snapshot_id: str | None
    summary: dict[str, Any]
    errors: list[dict[str, str]]
    tree: str
    # Why the files cache could not be saved (the next backup then reads every file again).
    cache_problem: str | None = None
    adopted_packs: int = 0  # packs a killed backup left unindexed, indexed by this one
    warnings: list[dict[str, str]] = field(default_factory=list)
    skipped: bool = False  # nothing changed (--skip-if-unchanged): no snapshot saved


class Backup:
    def __init__(self, repo: Repository, opts: BackupOptions, progress: BackupProgress) -> None:
        self.repo = repo
        self.opts = opts
        self.tally = Tally(progress)
        # The files cache (see filescache): the old one is read a directory at a time as the
        # walk enters it, the new one written a directory at a time as the walk finishes it.
        self.old_cache = filescache.OldCache()
        self.new_cache = filescache.NewCache(None)
        repo.tune(opts.tuning)  # before any writer: the forked readers inherit it
        self.writer = repo.writer(opts.max_in_flight, dry_run=opts.dry_run)
        self.trees = TreeBuilder(self.writer, self._cache_dir)
        self.pool: WorkerPool | None = None
        self.adopted = 0

    def _cache_dir(self, path: bytes, value: bytes) -> None:
        self.new_cache.add(path, value)  # the new cache is opened by run, so looked up here

    @property
    def held_nodes(self) -> int:
        """Entries of directories not yet saved: what the walk holds in memory."""
        return self.trees.held_nodes

    def run(self, parent: str | None, unchanged_tree: str | None = None) -> BackupResult:
        try:
            return self._run(parent, unchanged_tree)
        finally:
            self.new_cache.discard()  # after a commit, nothing is left to discard
            self.old_cache.close()

    def _run(self, parent: str | None, unchanged_tree: str | None) -> BackupResult:
        if not self.opts.dry_run:
            # Packs a killed backup stored but never indexed: indexed now, not uploaded again.
            self.adopted = self.repo.adopt_unindexed()
        stream = self.opts.stream
        if stream is not None:
            paths = [stream.path]
            root, stats = self._read_stream(stream)
        else:
            paths = normalise_paths(self.opts.paths)
            root, stats = self._walk(paths)
        skip = self.opts.skip_if_unchanged and root == unchanged_tree
        return self._save(parent, paths, root, stats, skip)

    def _read_stream(self, stream: StreamSource) -> tuple[str, list[dict[str, int]]]:
        """Standard input or a command's output as one file at the root (see stream.py); the
        files cache is neither read nor written."""
        opts = self.opts
        chunker = data_chunker(self.repo, self.writer.pack_done, opts.dry_run, opts.max_in_flight)
        try:
            node = read_stream(
                chunker, stream, int(opts.time * 1e9), self.tally.progress.bytes_read
            )
            stats = [chunker.writer.finish()]
        except BaseException:
            self.writer.close()  # drops the trees' unfinished pack
            raise
        finally:
            chunker.writer.close()
        counts = self.tally.counts
        counts["files_new"] += 1
        counts["bytes_total"] += node.size or 0
        counts["bytes_read"] += node.size or 0
        self.tally.progress.file_done(stream.path, node.size or 0, "new")
        return self.trees.upper_trees([(stream.path, node)]), stats

    def _walk(self, paths: list[bytes]) -> tuple[str, list[dict[str, int]]]:
        """Walk ``paths``, read what the files cache does not vouch for, save the trees."""
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
        opts = self.opts
        rules = WalkRules(
            ExcludeMatcher(opts.excludes, opts.iexcludes),
            opts.one_file_system,
            DirTags(opts.tag_files, self.tally.warn),
            opts.max_file_size,
        )
        walker = Walker(self.repo.index, self.tally, self.trees, self.old_cache, rules)
        batcher = walker.batcher = Batcher(self.pool, self.tally, walker.complete_batch)
        try:
            if not self.opts.dry_run:
                self.new_cache = filescache.NewCache(self.opts.cache_file)
            tops = []
            for path in paths:
                node = walker.walk_top(path)
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
            batcher.pump(drain=True)
            self.pool.finish()
        except BaseException:
            self.pool.abort()
            self.writer.close()  # drops the trees' unfinished pack
            raise
        for dir_path, records in walker.top_new.items():
            if records:  # a parent is never also walked (normalise_paths drops those inside)
                self.new_cache.add(dir_path, b"".join(records))
        walker.top_old.clear()
        root = self.trees.upper_trees(tops)
        return root, self.pool.stats

    def _save(
        self,
        parent: str | None,
        paths: list[bytes],
        root: str,
        stats: list[dict[str, int]],
        skip: bool,
    ) -> BackupResult:
        """Save the snapshot, or with ``skip`` (nothing changed) none: what is stored so far
        is made durable and indexed all the same, and the new files cache is kept, since
        the unchanged snapshot references every blob it names."""
        tally = self.tally
        summary = dict(tally.counts)
        summary.update(
            {
                "data_blobs": sum(s["blobs_new"] for s in stats),
                "data_added": sum(s["bytes_new"] for s in stats),
                "data_stored": sum(s["bytes_stored"] for s in stats),
                "errors": len(tally.errors),
            }
        )
        if self.opts.dry_run:
            self.writer.close()
            return BackupResult(None, summary, tally.errors, root, warnings=tally.warnings)
        try:
            self.writer.flush()
        finally:
            self.writer.close()
        sid = None if skip else self.repo.save_snapshot(self._doc(parent, paths, root, summary))
        # The new cache becomes the cache only once a snapshot naming its blobs is saved.
        self.new_cache.carry_over(self.old_cache)
        self.new_cache.commit()
        return BackupResult(
            sid,
            summary,
            tally.errors,
            root,
            self.new_cache.problem,
            self.adopted,
            tally.warnings,
            skipped=skip,
        )

    def _doc(
        self, parent: str | None, paths: list[bytes], root: str, summary: dict[str, Any]
    ) -> dict[str, Any]:
        opts = self.opts
        return {
            "time": opts.time,
            "hostname": opts.host,
            "username": opts.user,
            "paths": [os.fsdecode(p) for p in paths],
            "tags": list(opts.tags),
            "tree": root,
            "parent": parent,
            "excludes": list(opts.excludes),
            "program": f"kaikyo {__version__}",
            "summary": summary,
            "errors": self.tally.errors,
        }


def normalise_paths(paths: tuple[bytes, ...]) -> list[bytes]:
    """Absolute, normalised, de-duplicated; a path inside another given path is dropped (as
    a snapshot records them in ``paths``)."""
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
    unchanged_tree: str | None = None,
) -> BackupResult:
    """Back up ``opts.paths`` (or ``opts.stream``) into ``repo`` (index already loaded, lock
    already held). ``parent`` is recorded in the snapshot; ``unchanged_tree`` is the root
    tree (hex) of the snapshot this one would repeat (the last of this host and these
    paths): with ``opts.skip_if_unchanged`` an equal root saves no snapshot."""
    return Backup(repo, opts, progress or NullProgress()).run(parent, unchanged_tree)
