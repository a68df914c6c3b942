"""One restore from start to end: :meth:`Restorer.run` calls the steps in their order, and
:meth:`Restorer._write_data` runs the writing threads. The steps themselves are in the other
modules of this package; what they share is passed to them explicitly (the plan, the inode
probe, the assignment of work), not kept here.
"""

from __future__ import annotations

import threading

import numpy as np

from kaikyo.repo import Repository
from kaikyo.snapshot.filters import PathFilter
from kaikyo.snapshot.restore import existing, resume, special
from kaikyo.snapshot.restore.assign import Assignment, assign, group_by_pack
from kaikyo.snapshot.restore.metadata import probe
from kaikyo.snapshot.restore.options import RestoreOptions, RestoreResult
from kaikyo.snapshot.restore.paths import make_target, map_oserror
from kaikyo.snapshot.restore.plan import Plan, locate
from kaikyo.snapshot.restore.verify import verify
from kaikyo.snapshot.restore.walk import collect
from kaikyo.snapshot.restore.writer import (
    Job,
    create_empty,
    finish_shared_files,
    prepare_shared_files,
    write_group,
)


class Restorer:
    """One restore of ``opts.target``; :meth:`run` once."""

    job: Job  # what the writing threads share, once the plan is made

    def __init__(self, repo: Repository, opts: RestoreOptions) -> None:
        self.repo = repo
        self.opts = opts
        self.result = RestoreResult()

    def run(self, root_tree: str, subpath: bytes = b"/") -> RestoreResult:
        opts, result, target = self.opts, self.result, self.opts.target
        ident = resume.identity(opts, root_tree, subpath)
        resuming, occupied = resume.check_target(opts, ident)
        replacing = opts.overwrite is not None or resuming  # what is in the way may go
        opts.meter.phase("reading trees")
        # A bad path or a blob that is not stored fails here, before anything is created.
        plan = collect(self.repo, opts, root_tree, subpath)
        expected = existing.expected_paths(plan) if opts.delete and occupied else None
        # With --overwrite MODE the comparison below decides, by the mode, what is finished.
        kept = resume.skip_finished(plan) if resuming and opts.overwrite is None else 0
        locate(self.repo, plan)
        changes = existing.Changes(listing=[] if opts.verbose else None)
        if occupied and opts.overwrite is not None:
            opts.meter.phase("comparing", files=len(plan.files))
            existing.compare(
                self.repo, plan, target, opts.overwrite, opts.workers, changes, opts.meter
            )
        else:
            changes.new = len(plan.files)
            for fno in range(len(plan.files)) if opts.verbose else ():
                changes.note(existing.NEW, plan.files.out(fno))
        if expected is not None:
            changes.doomed = existing.find_extra(target, expected, _filter(opts))
        group_by_pack(plan.chunks)
        self._report(plan, changes, kept, resuming)
        if opts.dry_run:
            result.deleted = len(changes.doomed)
            for path in changes.doomed:
                changes.note(existing.DELETED, path)
            return result
        make_target(target)
        resume.write_marker(target, ident)
        result.deleted = existing.remove_all(changes.doomed, target, changes.note)
        existing.remove_all(plan.remove, target)
        inodes = probe(target, replacing)
        special.make_dirs(plan.dirs, replacing)
        assignment = assign(plan.chunks, plan.files, opts.workers)
        opts.meter.phase("restoring", bytes=result.bytes_to_write, files=len(plan.files))
        self.job = Job(
            self.repo,
            plan.files,
            plan.chunks,
            assignment.owner,
            inodes,
            plan.read_waste,
            opts.meter,
        )
        prepare_shared_files(self.job, replacing)
        self._write_data(assignment)
        finish_shared_files(self.job, result.warnings)
        result.links += special.link_hardlinks(plan, replacing)
        for entry in plan.specials:
            result.other += special.make_special(entry, replacing, inodes, result.warnings)
        resume.remove_marker(target)
        special.finish_dirs(plan.dirs, inodes, result.warnings, replacing)
        if opts.verify:
            opts.meter.phase("verifying", files=len(plan.files))
            result.verified = verify(self.repo, plan.files, plan.chunks, opts.meter) + kept
        return result

    def _report(self, plan: Plan, changes: existing.Changes, kept: int, resuming: bool) -> None:
        """What the plan does, known before anything is written (all --dry-run says)."""
        result = self.result
        result.files = len(plan.files) + kept + changes.skipped
        result.dirs = len(plan.dirs.paths)
        result.resumed = resuming
        result.kept = kept
        result.new, result.updated = changes.new, changes.updated
        result.unchanged, result.skipped = changes.unchanged, changes.skipped
        result.bytes_downloaded = existing.download_bytes(plan)
        result.bytes_to_write = int(plan.chunks.raw.sum(dtype=np.int64))
        result.dry_run = self.opts.dry_run
        if changes.listing is not None:
            result.listing = changes.listing

    def _write_data(self, assignment: Assignment) -> None:
        """Share 0 runs in this thread, the others in worker threads. A failure stops the
        others before their next read; the first (this thread's first) is raised once all
        have stopped."""
        n = len(assignment.shares)
        stop = threading.Event()
        outcome: list[tuple[int, list[str]] | BaseException | None] = [None] * n

        def work(w: int) -> None:
            try:
                outcome[w] = self._write_share(assignment, w, stop)
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

    def _write_share(
        self, assignment: Assignment, w: int, stop: threading.Event
    ) -> tuple[int, list[str]]:
        """Worker ``w``'s part: its packs' chunks, and the files it owns created and finished.

        Returns (bytes written, warnings).
        """
        warnings: list[str] = []
        written = 0
        create_empty(self.job, assignment.empty_shares[w], warnings)
        for g in assignment.shares[w]:
            if stop.is_set():
                break
            try:
                written += self._write_pack(g, w + 1, stop, warnings)
            except OSError as exc:
                raise map_oserror(exc, "file data") from None
        return written, warnings

    def _write_pack(self, g: int, me: int, stop: threading.Event, warnings: list[str]) -> int:
        """Pack group ``g`` into its files, as worker ``me - 1`` (see :func:`.write_group`);
        a method so that a test can make one fail."""
        return write_group(self.job, g, me, stop, warnings)


def _filter(opts: RestoreOptions) -> PathFilter | None:
    filt = PathFilter(opts.include, opts.exclude, opts.iinclude, opts.iexclude)
    return filt if filt else None


def run_restore(
    repo: Repository, root_tree: str, subpath: bytes, opts: RestoreOptions
) -> RestoreResult:
    return Restorer(repo, opts).run(root_tree, subpath)
