"""prune: delete data no snapshot references, repacking packs that are partly used.

Decision (pure, :func:`plan_prune`) then execution (:func:`execute_prune`) in crash-safe order:
1. copy still-used blobs of packs being repacked into new packs (sealed bytes are copied as
   they are, after their authenticity is checked), and upload them;
2. write index files for every pack that stays and every new pack;
3. delete the old index files;
4. delete the packs no longer needed.
A crash before 2 leaves unindexed new packs (adopted or pruned later); between 2 and 3, index
files that overlap (harmless: any location of a blob is valid); after 3, unreferenced packs
that the next prune deletes.

Every object is hostile, so the plan is made only from what is stored: the index as
:meth:`Repository.load_index` keeps it (entries of packs not stored, or beyond a stored pack's
end, are dropped, so an old index replayed after a prune cannot make this one keep a copy that
is gone and delete the live one). Before anything is deleted, :func:`execute_prune` checks that
every referenced blob that is stored now is still stored after, and refuses otherwise. A
snapshot whose trees are not all stored (forgotten and replayed, or damaged) is reported and
keeps what of it is stored; a stored pack in no index whose header does not authenticate
(garbage) is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kaikyo.core.format.tree import decode_nodes
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError
from kaikyo.repo import (
    FinishedPack,
    PackEntry,
    RawPack,
    Repository,
    finished_pack,
    pack_name,
    repack_blobs,
)
from kaikyo.repo.badobjects import OBJECT_ERRORS, reason_of
from kaikyo.snapshot.progress import Meter
from kaikyo.store import ObjectNotFound

REPACK_UNUSED_FRACTION = 0.10


@dataclass
class PrunePlan:
    delete_packs: list[bytes] = field(default_factory=list)
    repack: dict[bytes, list[PackEntry]] = field(default_factory=dict)  # pack -> blobs to keep
    keep_packs: dict[bytes, list[PackEntry]] = field(default_factory=dict)
    garbage_packs: list[bytes] = field(default_factory=list)  # in no index, unreadable header
    bytes_freed: int = 0
    blobs_unused: int = 0
    used_stored: int = 0  # referenced blobs that are stored: all must survive


@dataclass
class UsedBlobs:
    """What the snapshots reference, and which of them could not be walked to the end."""

    blobs: set[bytes] = field(default_factory=set)
    damaged: dict[str, str] = field(default_factory=dict)  # snapshot id -> first problem


def used_blobs(repo: Repository, trees: Iterable[str]) -> set[bytes]:
    """Every blob reachable from the given root trees (trees included)."""
    return referenced(repo, [("", t) for t in trees]).blobs


def referenced(
    repo: Repository, roots: list[tuple[str, str]], meter: Meter | None = None
) -> UsedBlobs:
    """Every blob reachable from ``(snapshot id, root tree)`` pairs.

    A tree in no index is not stored: its snapshot is damaged and what lies below that tree
    cannot be reached by any restore, so it is recorded and the walk goes on. A tree that is
    indexed but does not authenticate stops the prune (IntegrityError): what it references is
    unknown, and deleting on a guess could cost data that ``check`` and ``repair`` might
    still save.
    """
    out = UsedBlobs()
    for sid, root in roots:
        stack = [bytes.fromhex(root)]
        while stack:
            tid = stack.pop()
            if tid in out.blobs:
                continue
            out.blobs.add(tid)
            if tid not in repo.index:
                out.damaged.setdefault(sid, f"tree {short(tid)} is not stored")
                continue
            try:
                nodes = decode_nodes(repo.load_blob(tid))
            except IntegrityError as exc:
                raise IntegrityError(
                    f"snapshot {short(sid)}: tree {short(tid)} is unreadable "
                    f"({exc.message}); nothing was deleted",
                    "run 'kaikyo check --read-data' to see what is damaged",
                ) from None
            for node in nodes:
                if node.content:
                    out.blobs.update(node.blob_ids())
                if node.subtree is not None:
                    stack.append(node.subtree)
        if meter is not None:
            meter.add(snapshots=1)
    return out


def plan_prune(
    by_pack: dict[bytes, list[PackEntry]],
    used: set[bytes],
    unused_fraction: float = REPACK_UNUSED_FRACTION,
    garbage: Iterable[bytes] = (),
) -> PrunePlan:
    """Decide what to delete and what to repack, from the stored packs' entries only.

    Each used blob keeps exactly one copy: the first in pack order; its other copies count
    as unused. ``garbage`` packs (stored, in no index, header unreadable) are deleted.
    """
    plan = PrunePlan()
    placed: set[bytes] = set()
    for pid in sorted(by_pack):
        entries = by_pack[pid]
        keep = []
        for e in entries:
            if e.blob_id in used and e.blob_id not in placed:
                keep.append(e)
                placed.add(e.blob_id)
        total = sum(e.length for e in entries)
        kept = sum(e.length for e in keep)
        plan.blobs_unused += len(entries) - len(keep)
        if not keep:
            plan.delete_packs.append(pid)
            plan.bytes_freed += total
        elif total and (total - kept) / total > unused_fraction:
            plan.repack[pid] = keep
            plan.bytes_freed += total - kept
        else:
            plan.keep_packs[pid] = entries
    plan.used_stored = len(placed)
    plan.garbage_packs = sorted(set(garbage) - set(by_pack))
    return plan


def _survivors(plan: PrunePlan, new_packs: list[RawPack]) -> list[FinishedPack]:
    return list(plan.keep_packs.items()) + [finished_pack(p) for p in new_packs]


def _check_nothing_lost(plan: PrunePlan, survivors: list[FinishedPack], used: set[bytes]) -> None:
    """Refuse before any deletion if a referenced, stored blob would have no copy left."""
    kept = {e.blob_id for _, entries in survivors for e in entries if e.blob_id in used}
    if len(kept) < plan.used_stored:
        raise IntegrityError(
            f"prune would leave {plan.used_stored - len(kept)} referenced blob(s) without a "
            "copy; nothing was deleted",
            "report this as a bug; run 'kaikyo check'",
        )


def execute_prune(
    repo: Repository, plan: PrunePlan, used: set[bytes] | None = None, meter: Meter | None = None
) -> int:
    """Carry out a plan; returns the number of packs written. ``meter`` follows two phases:
    repacking (packs, and bytes copied) and deleting (packs)."""
    meter = meter or Meter()
    kept = sum(e.length for entries in plan.repack.values() for e in entries)
    meter.phase("repacking", packs=len(plan.repack), bytes=kept)
    new_packs = repack_blobs(repo, plan.repack, lambda n: meter.add(packs=1, bytes=n))
    survivors = _survivors(plan, new_packs)
    if used is not None:
        _check_nothing_lost(plan, survivors, used)
    repo.replace_index(survivors)
    doomed = [*plan.delete_packs, *plan.repack, *plan.garbage_packs]
    meter.phase("deleting", packs=len(doomed))
    for pid in doomed:
        _delete(repo, pack_name(pid))
        meter.add(packs=1)
    return len(new_packs)


def _delete(repo: Repository, name: str) -> None:
    try:
        repo.store.delete(name)
    except ObjectNotFound:
        pass
    repo.bad.forget(name)


@dataclass
class PruneResult:
    plan: PrunePlan
    written: int
    damaged: dict[str, str]


def run_prune(repo: Repository, dry_run: bool = False, meter: Meter | None = None) -> PruneResult:
    """The whole prune under the caller's exclusive lock: adopt unindexed packs, find what
    the readable snapshots reference, plan, and (unless ``dry_run``) carry it out.
    ``meter`` follows the phases: finding data in use (snapshots), then those of
    :func:`execute_prune`."""
    meter = meter or Meter()
    meter.phase("adopting packs")
    repo.adopt_unindexed(write=not dry_run)
    roots = [(r.snapshot_id, str(r.doc["tree"])) for r in repo.list_snapshots()]
    meter.phase("finding data in use", snapshots=len(roots))
    used = referenced(repo, roots, meter)
    plan = plan_prune(repo.index.by_pack(), used.blobs, garbage=repo.unadoptable_packs())
    written = 0 if dry_run else execute_prune(repo, plan, used.blobs, meter)
    return PruneResult(plan, written, used.damaged)


def rebuild_index(repo: Repository) -> tuple[int, list[str]]:
    """Rebuild every index file from the pack headers (for a lost or damaged index).

    Returns (packs indexed, problems). Unreadable packs are reported and left out.
    """
    problems: list[str] = []
    finished: list[FinishedPack] = []
    for pid, info in repo.list_packs().items():
        try:
            finished.append((pid, repo.read_pack_header(pid, info.size)))
        except ObjectNotFound:
            continue
        except OBJECT_ERRORS as exc:  # a store that fails stops the rebuild: nothing deleted
            problems.append(f"pack {short(pid)}: {reason_of(exc)}")
            repo.bad.report(pack_name(pid), f"its header does not authenticate ({reason_of(exc)})")
    repo.replace_index(finished)
    return len(finished), problems
