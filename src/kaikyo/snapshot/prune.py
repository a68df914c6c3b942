"""prune: delete data no snapshot references, repacking packs that are partly used.

Decision (pure, :func:`plan_prune`) then execution (:func:`execute_prune`) in crash-safe order:
1. copy still-used blobs of packs being repacked into new packs (sealed bytes are copied as
   they are, after their authenticity is checked), and upload them;
2. write index files for every pack that stays and every new pack;
3. delete the old index files;
4. delete the packs no longer needed.
A crash before 2 leaves unindexed new packs (adopted or pruned later); between 2 and 3, index
files that overlap (harmless: any location of a blob is valid); after 3, unreferenced packs
that the next prune deletes. No step ever removes the only copy of a referenced blob.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kaikyo.core.format.constants import BLOB_TREE, INDEX_PREFIX
from kaikyo.core.format.pack import PackEntry
from kaikyo.core.format.tree import decode_tree
from kaikyo.errors import KaikyoError
from kaikyo.repo import FinishedPack, PackWriter, RawPack, Repository, Uploader, pack_name
from kaikyo.repo.packer import finished_pack
from kaikyo.store import ObjectNotFound

REPACK_UNUSED_FRACTION = 0.10


@dataclass
class PrunePlan:
    delete_packs: list[bytes] = field(default_factory=list)
    repack: dict[bytes, list[PackEntry]] = field(default_factory=dict)  # pack -> blobs to keep
    keep_packs: dict[bytes, list[PackEntry]] = field(default_factory=dict)
    bytes_freed: int = 0
    blobs_unused: int = 0


def used_blobs(repo: Repository, trees: Iterable[str]) -> set[bytes]:
    """Every blob reachable from the given root trees (trees included)."""
    used: set[bytes] = set()
    stack = [bytes.fromhex(t) for t in trees]
    while stack:
        tid = stack.pop()
        if tid in used:
            continue
        used.add(tid)
        for node in decode_tree(repo.load_blob(tid)):
            for hex_id in node.get("content", ()):
                used.add(bytes.fromhex(hex_id))
            sub = node.get("subtree")
            if sub:
                stack.append(bytes.fromhex(sub))
    return used


def plan_prune(by_pack: dict[bytes, list[PackEntry]], used: set[bytes],
               unused_fraction: float = REPACK_UNUSED_FRACTION) -> PrunePlan:
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
    return plan


def execute_prune(repo: Repository, plan: PrunePlan) -> int:
    """Carry out a plan; returns the number of packs written."""
    new_packs: list[RawPack] = []
    uploader = Uploader(repo.store)
    trees = PackWriter(repo.cipher, repo.compressor, repo.config.pack_size, uploader,
                       new_packs.append)
    data = PackWriter(repo.cipher, repo.compressor, repo.config.pack_size, uploader,
                      new_packs.append)
    try:
        for pid, keep in plan.repack.items():
            lo = min(e.offset for e in keep)
            hi = max(e.offset + e.length for e in keep)
            raw = memoryview(repo.store.get(pack_name(pid), lo, hi - lo))
            for e in keep:
                sealed = raw[e.offset - lo : e.offset - lo + e.length]
                loc = repo.blob_location(e.blob_id)
                repo.open_sealed_blob(loc, e.blob_id, sealed)  # never copy damaged bytes
                writer = trees if e.blob_type == BLOB_TREE else data
                writer.add(e.blob_type, e.blob_id, bytes(sealed), e.raw_length)
        trees.flush()
        data.flush()
        uploader.wait()
    finally:
        trees.discard()
        data.discard()
        uploader.close()
    old_index = [o.name for o in repo.store.list(INDEX_PREFIX)]
    survivors = list(plan.keep_packs.items()) + [finished_pack(p) for p in new_packs]
    repo.indexed_files = set()
    batch: list[FinishedPack] = []
    for item in survivors:
        batch.append(item)
        if len(batch) >= 256:
            repo.write_index(batch)
            batch = []
    repo.write_index(batch)
    written = {n for n in repo.indexed_files}
    for name in old_index:
        if name not in written:
            try:
                repo.store.delete(name)
            except ObjectNotFound:
                pass
    for pid in list(plan.delete_packs) + list(plan.repack):
        try:
            repo.store.delete(pack_name(pid))
        except ObjectNotFound:
            pass
    return len(new_packs)


def rebuild_index(repo: Repository) -> tuple[int, list[str]]:
    """Rebuild every index file from the pack headers (for a lost or damaged index).

    Returns (packs indexed, problems). Unreadable packs are reported and left out.
    """
    problems: list[str] = []
    finished: list[FinishedPack] = []
    for pid, info in repo.list_packs().items():
        try:
            finished.append((pid, repo.read_pack_header(pid, info.size)))
        except KaikyoError as exc:
            problems.append(f"pack {pid.hex()[:8]}: {exc}")
    old = [o.name for o in repo.store.list(INDEX_PREFIX)]
    repo.indexed_files = set()
    for start in range(0, len(finished), 256):
        repo.write_index(finished[start : start + 256])
    for name in old:
        if name not in repo.indexed_files:
            try:
                repo.store.delete(name)
            except ObjectNotFound:
                pass
    return len(finished), problems
