"""Resuming an interrupted restore. A run leaves a marker in its target
(``.kaikyo-restore-in-progress``, naming what it restores) until it is done; a rerun of the
same restore finds it, keeps the files the cut run had finished and replaces the others."""

from __future__ import annotations

import contextlib
import json
import os
import stat

import numpy as np

from kaikyo.errors import AlreadyExistsError
from kaikyo.snapshot.restore.options import RestoreOptions
from kaikyo.snapshot.restore.paths import map_oserror, real_dir
from kaikyo.snapshot.restore.plan import Plan, keep_files

# Left in the target while a restore runs: a rerun of the same restore resumes from it.
MARKER = b".kaikyo-restore-in-progress"

Identity = dict[str, object]


def identity(opts: RestoreOptions, root_tree: str, subpath: bytes) -> Identity:
    """What the marker names: a rerun resumes only the very same restore."""
    ident: Identity = {
        "tree": root_tree,
        "path": os.fsdecode(subpath),
        "include": list(opts.include),
        "exclude": list(opts.exclude),
    }
    if opts.iinclude or opts.iexclude:  # named only when given: older markers still match
        ident.update(iinclude=list(opts.iinclude), iexclude=list(opts.iexclude))
    return ident


def check_target(opts: RestoreOptions, ident: Identity) -> tuple[bool, bool]:
    """Refuse a target that is not a directory, or not empty, unless ``--overwrite``,
    or unless it holds an interrupted run of this very restore. Returns (whether it resumes
    one, whether the target holds anything)."""
    target = opts.target
    if not os.path.lexists(target):
        return False, False
    if not real_dir(target):
        raise AlreadyExistsError(f"restore target {os.fsdecode(target)} is not a directory")
    try:
        occupied = bool(os.listdir(target))
    except OSError as exc:
        raise map_oserror(exc, os.fsdecode(target)) from None
    left = _marker(target)
    if not occupied or opts.overwrite is not None or left == ident:
        return left == ident, occupied
    if left is not None:
        raise AlreadyExistsError(
            f"restore target {os.fsdecode(target)} holds an interrupted restore of "
            "another snapshot or path",
            "rerun that restore to finish it, choose another directory, or pass --overwrite MODE",
        )
    raise AlreadyExistsError(
        f"restore target {os.fsdecode(target)} is not empty",
        "choose an empty directory, or pass --overwrite if-changed (with --delete, the "
        "target becomes the snapshot)",
    )


def _marker(target: bytes) -> Identity | None:
    try:
        with open(target + b"/" + MARKER, "rb") as fh:
            doc = json.loads(fh.read(65536))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def write_marker(target: bytes, ident: Identity) -> None:
    path = target + b"/" + MARKER
    try:
        with open(path, "wb") as fh:
            fh.write(json.dumps(ident, sort_keys=True).encode())
    except OSError as exc:
        raise map_oserror(exc, os.fsdecode(path)) from None


def remove_marker(target: bytes) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(target + b"/" + MARKER)


def skip_finished(plan: Plan) -> int:
    """Drop the files a resumed restore finished before it was cut (kept as they are),
    so the rerun reads only what is missing. Returns how many were kept."""
    keep = np.array([not _finished(plan, fno) for fno in range(len(plan.files))], dtype=bool)
    if keep.all():
        return 0
    keep_files(plan, keep)
    return int((~keep).sum())


def _finished(plan: Plan, fno: int) -> bool:
    """Size and mtime as in the snapshot: a file gets its mtime last."""
    m = plan.files.meta
    try:
        st = os.lstat(plan.files.out(fno))
    except OSError:
        return False
    return (
        stat.S_ISREG(st.st_mode)
        and st.st_size == m[fno * 5 + 4]
        and st.st_mtime_ns == m[fno * 5 + 3]
    )
