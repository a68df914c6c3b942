"""Restoring onto a target that already holds a tree: ``--overwrite MODE``, ``--delete`` and
``--dry-run``, the primitive of migration and fail-back.

What the target holds is compared with the plan before anything is written, and the plan
shrinks to the difference. An existing regular file is read chunk by chunk at the offsets
the snapshot has, each range hashed with the repository's keyed hash: a chunk that is
already in place is neither downloaded nor written, the others are downloaded and written
where they belong (in the same inode), then the size is set. So an append, or pages changed
in a database file, cost what changed, not the file.

The modes are restic's (0.17):

- ``always``: every existing file is compared by content;
- ``if-changed``: a file whose size and mtime match the snapshot is taken as unchanged
  without reading it (restic's shortcut; a change that keeps both is not seen), the others
  are compared by content;
- ``if-newer``: an existing entry whose mtime is the snapshot's or later is left as it is,
  older ones are compared by content;
- ``never``: an existing entry is left as it is.

Every entry that is restored gets the snapshot's metadata, unchanged content or not. Where
the target has a directory and the snapshot something else, the directory goes, with all
below it (never with ``never``). ``--delete`` removes what the snapshot does not have,
within what the include and exclude filters select (as restic), never following a symlink.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kaikyo.repo import Repository, cut_spans
from kaikyo.snapshot.filters import PathFilter
from kaikyo.snapshot.progress import Meter
from kaikyo.snapshot.restore.paths import map_oserror, real_dir
from kaikyo.snapshot.restore.plan import Plan, drop_located

OVERWRITE_MODES = ("always", "if-changed", "if-newer", "never")
_BATCH = 256  # files judged per task of the comparing threads
# What is left to restore onto a tree that is mostly right is scattered among chunks the
# target holds: a read downloads at most this share more than the chunks it wants (the
# default, which spans gaps up to READ_GAP to save round trips, downloaded 3.7x what was
# needed onto the bench tree).
ONTO_WASTE = 0.2

# What happens to each entry, as reported (restic's words where it has them).
NEW, UPDATED, UNCHANGED, SKIPPED, DELETED = "restored", "updated", "unchanged", "skipped", "deleted"


@dataclass
class Changes:
    """What restoring onto the target does, per file (and ``deleted`` per entry)."""

    new: int = 0  # not in the target
    updated: int = 0  # there, with other content (or something else in its place)
    unchanged: int = 0  # there with the snapshot's content: only metadata is set
    skipped: int = 0  # there and left as it is (never, if-newer)
    deleted: int = 0  # removed by --delete
    doomed: list[bytes] = field(default_factory=list)  # what --delete removes
    listing: list[tuple[str, bytes]] | None = None  # (action, path) with --verbose

    def note(self, action: str, path: bytes) -> None:
        if self.listing is not None:
            self.listing.append((action, path))


@dataclass(frozen=True, slots=True)
class _Verdict:
    """One file's fate: keep it in the plan or not, which of its rows stay (None: all), and
    whether it is updated where it is."""

    action: str
    keep: bool = True
    rows: npt.NDArray[np.bool_] | None = None
    inplace: bool = False
    remove: bool = False  # a directory is where the file goes


@dataclass(frozen=True, slots=True)
class Expected:
    """Every path the snapshot has below the target, and which are directories (taken
    before anything leaves the plan: a file left as it is still belongs)."""

    paths: set[bytes]
    dirs: set[bytes]


def expected_paths(plan: Plan) -> Expected:
    files = plan.files
    dirs = set(plan.dirs.paths)
    paths = set(dirs)
    paths.update(files.out(f) for f in range(len(files)))
    paths.update(entry[0] for entry in plan.specials)
    paths.update(dst for _, dst in plan.hardlinks)
    return Expected(paths, dirs)


class RealParents:
    """Whether each directory on the way from the target down is a real directory, not a
    symlink to one: what is below a symlink is not in the target (restoring makes the
    directory, replacing the link), so it is never read, kept or removed through it."""

    def __init__(self, target: bytes) -> None:
        self.target = target
        self._memo: dict[bytes, bool] = {target: real_dir(target)}

    def __call__(self, parent: bytes) -> bool:
        known = self._memo.get(parent)
        if known is not None:
            return known
        up = os.path.dirname(parent)
        ok = (
            len(parent) > len(self.target)
            and parent.startswith(self.target + b"/")
            and self(up)
            and real_dir(parent)
        )
        self._memo[parent] = ok
        return ok

    def holds(self, path: bytes) -> bool:
        """``path`` is in the target: its directory is real all the way up."""
        return self(os.path.dirname(path))


def compare(
    repo: Repository,
    plan: Plan,
    target: bytes,
    mode: str,
    workers: int,
    changes: Changes,
    meter: Meter | None = None,
) -> None:
    """Shrink the (located) plan to what differs from ``target``, by ``mode``."""
    files = plan.files
    parents = RealParents(target)
    real = {p: parents(p) for p in set(files.parent)}  # once per directory, before threads
    n = len(files)
    keep_row = np.ones(len(plan.chunks.fno), dtype=bool)
    keep = np.ones(n, dtype=bool)
    starts = files.rows
    remade: set[bytes] = set()  # files made anew: a hard link to one is made again

    def judge(lo: int) -> list[_Verdict]:
        return [
            _judge(repo, plan, f, mode) if real[files.parent[f]] else _Verdict(NEW)
            for f in range(lo, min(n, lo + _BATCH))
        ]

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="kaikyo-compare") as pool:
        batches = pool.map(judge, range(0, n, _BATCH))
        for fno, v in enumerate(v for batch in batches for v in batch):
            out = files.out(fno)
            changes.note(v.action, out)
            _count(changes, v.action)
            if meter is not None:
                meter.add(files=1)
            if not v.keep:
                keep[fno] = False
                continue
            if v.rows is not None:
                keep_row[starts[fno] : starts[fno + 1]] = v.rows
            if v.inplace:
                files.inplace.add(fno)
            else:
                remade.add(out)
            if v.remove:
                plan.remove.append(out)
    _judge_links(plan, mode, remade, parents)
    _judge_specials(plan, mode, changes, parents)
    plan.read_waste = ONTO_WASTE
    drop_located(plan, keep_row, keep)


def _count(changes: Changes, action: str) -> None:
    if action == NEW:
        changes.new += 1
    elif action == UPDATED:
        changes.updated += 1
    elif action == UNCHANGED:
        changes.unchanged += 1
    else:
        changes.skipped += 1


def _judge(repo: Repository, plan: Plan, fno: int, mode: str) -> _Verdict:
    """What to do with planned file ``fno`` given what is at its path."""
    files = plan.files
    out = files.out(fno)
    try:
        st = os.lstat(out)
    except OSError:
        return _Verdict(NEW)  # absent (or its directory is not one yet: made later)
    m = files.meta
    size, mtime = m[fno * 5 + 4], m[fno * 5 + 3]
    if mode == "never" or (mode == "if-newer" and st.st_mtime_ns >= mtime):
        return _Verdict(SKIPPED, keep=False)
    if stat.S_ISDIR(st.st_mode):
        return _Verdict(UPDATED, remove=True)
    if not stat.S_ISREG(st.st_mode):
        return _Verdict(UPDATED)  # a symlink or special: replaced
    nrows = files.rows[fno + 1] - files.rows[fno]
    if mode == "if-changed" and st.st_size == size and st.st_mtime_ns == mtime:
        return _Verdict(UNCHANGED, rows=np.zeros(nrows, dtype=bool), inplace=True)
    same = _same_chunks(repo, plan, fno, out, st.st_size)
    if same is None:
        return _Verdict(UPDATED)  # unreadable: replaced
    if same.all() and st.st_size == size:
        return _Verdict(UNCHANGED, rows=~same, inplace=True)
    if st.st_nlink > 1 or fno in files.sparse:
        # Written in place, a change would reach the other names of the inode (outside the
        # snapshot, perhaps); a sparse file's holes would keep old bytes. Made anew instead.
        return _Verdict(UPDATED)
    return _Verdict(UPDATED, rows=~same, inplace=True)


def _same_chunks(
    repo: Repository, plan: Plan, fno: int, out: bytes, size: int
) -> npt.NDArray[np.bool_] | None:
    """Per row of file ``fno``: whether the target already holds that chunk at its offset."""
    chunks = plan.chunks
    lo, hi = plan.files.rows[fno], plan.files.rows[fno + 1]
    same = np.zeros(hi - lo, dtype=bool)
    if hi == lo:
        return same
    hasher = repo.hasher
    foffs = chunks.foff[lo:hi].tolist()
    raws = chunks.raw[lo:hi].tolist()
    ids = chunks.ids
    try:
        fd = os.open(out, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        for k in range(hi - lo):
            off, raw = foffs[k], raws[k]
            if off + raw > size:
                break
            data = os.pread(fd, raw, off)
            row = lo + k
            same[k] = len(data) == raw and hasher(data) == ids[row * 32 : row * 32 + 32]
    except OSError:
        return None
    finally:
        os.close(fd)
    return same


def _judge_links(plan: Plan, mode: str, remade: set[bytes], parents: RealParents) -> None:
    """A hard link already there to the inode that stays is left; one whose file is made
    anew is made again."""
    kept = []
    for first, dst in plan.hardlinks:
        try:
            if not (parents.holds(dst) and parents.holds(first)):
                raise FileNotFoundError(dst)
            st = os.lstat(dst)
        except OSError:
            kept.append((first, dst))
            continue
        if mode == "never" or (first not in remade and _same_inode(st, first)):
            continue
        if stat.S_ISDIR(st.st_mode):
            plan.remove.append(dst)
        kept.append((first, dst))
    plan.hardlinks = kept


def _same_inode(st: os.stat_result, path: bytes) -> bool:
    try:
        return os.path.samestat(st, os.lstat(path))
    except OSError:
        return False


def _judge_specials(plan: Plan, mode: str, changes: Changes, parents: RealParents) -> None:
    """Symlinks, fifos and devices: made again unless ``never`` or ``if-newer`` leaves them."""
    kept = []
    for entry in plan.specials:
        out, meta = entry[0], entry[3]
        try:
            if not parents.holds(out):
                raise FileNotFoundError(out)
            st = os.lstat(out)
        except OSError:
            kept.append(entry)
            continue
        if mode == "never" or (mode == "if-newer" and st.st_mtime_ns >= meta[3]):
            changes.note(SKIPPED, out)
            continue
        if stat.S_ISDIR(st.st_mode):
            plan.remove.append(out)
        kept.append(entry)
    plan.specials = kept


def find_extra(target: bytes, expected: Expected, filt: PathFilter | None) -> list[bytes]:
    """What ``--delete`` removes: entries below ``target`` the snapshot does not have, that
    the filters select (an unselected directory is looked into: what is below it may be
    selected). A directory that goes is listed once, not what is below it; so is one where
    the snapshot has something else (replaced, not emptied)."""
    from kaikyo.snapshot.restore.resume import MARKER

    marker = target + b"/" + MARKER
    doomed: list[bytes] = []
    stack = [target]
    while stack:
        here = stack.pop()
        for path, is_dir in _entries(here):
            if path == marker:
                continue
            if path in expected.paths:
                if is_dir and path in expected.dirs:
                    stack.append(path)
                continue
            if filt is not None and not filt.wanted(path[len(target) :], is_dir):
                if is_dir:
                    stack.append(path)
                continue
            doomed.append(path)
    return doomed


def _entries(directory: bytes) -> Iterator[tuple[bytes, bool]]:
    """(path, is a real directory) of each entry, sorted, never following a symlink."""
    try:
        with os.scandir(directory) as it:
            found = [(e.path, e.is_dir(follow_symlinks=False)) for e in it]
    except OSError as exc:
        raise map_oserror(exc, os.fsdecode(directory)) from None
    return iter(sorted(found))


def remove_all(
    paths: list[bytes], target: bytes, note: Callable[[str, bytes], None] | None = None
) -> int:
    """Remove each path: a real directory with everything below it, anything else unlinked
    (a symlink itself, never what it points to), and nothing that is not in ``target``
    (below a symlink). Returns how many went."""
    parents = RealParents(target)
    for path in paths:
        if not parents.holds(path):
            continue
        if note is not None:
            note(DELETED, path)
        try:
            if real_dir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(path)) from None
    return len(paths)


def download_bytes(plan: Plan) -> int:
    """The bytes the plan reads from the repository: the spans the writer fetches (see
    :meth:`kaikyo.repo.Repository.stream_pack`), after :func:`..assign.group_by_pack`."""
    chunks = plan.chunks
    total = 0
    for _, first, end in chunks.groups:
        sel = chunks.order[first:end]
        offs, lens = chunks.offset[sel].tolist(), chunks.length[sel].tolist()
        total += sum(hi - lo for _, _, lo, hi in cut_spans(offs, lens, plan.read_waste))
    return total
