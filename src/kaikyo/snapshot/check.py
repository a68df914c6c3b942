"""check: structure (index, packs, snapshots, trees) and, with read_data, every byte.

Findings are returned, never printed. Damage is reported by pack, with the snapshots and files
whose data lives in it, so an operator knows exactly what a corrupt pack costs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kaikyo.core.constants import LOCK_PREFIX
from kaikyo.core.format.tree import TreeNode, decode_nodes
from kaikyo.core.ids import short
from kaikyo.errors import KaikyoError
from kaikyo.repo import PackEntry, Repository, pack_name
from kaikyo.repo.repository import SnapshotRecord
from kaikyo.snapshot.progress import Meter
from kaikyo.snapshot.subset import ReadSubset


@dataclass
class Finding:
    severity: str  # "error" or "warning"
    kind: str
    message: str
    pack: str | None = None
    snapshots: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    object: str | None = None  # the object's name, for objects that do not authenticate


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    packs: int = 0
    packs_read: int = 0
    snapshots: int = 0
    trees: int = 0
    blobs: int = 0

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def check(
    repo: Repository,
    read_data: bool = False,
    meter: Meter | None = None,
    subset: ReadSubset | None = None,
) -> CheckReport:
    """The structure, and with ``read_data`` every pack's bytes (with ``subset``, only the
    packs it selects: see :mod:`.subset`). ``meter`` follows the phases: loading the index,
    reading packs (packs and bytes of their totals), checking snapshots (snapshots, trees)."""
    report = CheckReport()
    meter = meter or Meter()
    meter.phase("loading index")
    try:
        repo.load_index()
    except KaikyoError as exc:
        report.findings.append(Finding("error", "index", f"index unreadable: {exc}"))
        return report
    repo.list_keys()  # slots that do not parse become findings (opening tried only one)
    stored = repo.list_packs()
    unindexed = set(stored) - set(repo.index.pack_ids())
    repo.adopt_unindexed(write=False, stored=stored)  # garbage among them becomes a finding
    by_pack = repo.index.by_pack()
    report.packs = len(stored)
    _compare_packs(report, repo, stored, unindexed)
    damaged: dict[bytes, str] = {}
    if read_data or subset is not None:
        readable = [p for p in stored if pack_name(p) not in repo.bad]
        if subset is not None:
            readable = subset.select({p: stored[p].size for p in readable})
        sizes = {p: stored[p].size for p in readable}
        meter.phase("reading packs", packs=len(readable), bytes=sum(sizes.values()))
        damaged = _read_all(repo, report, readable, sizes, by_pack, meter)
    damaged_blobs = {e.blob_id: pid for pid in damaged for e in by_pack.get(pid, [])}
    affected: dict[bytes, tuple[set[str], set[str]]] = {pid: (set(), set()) for pid in damaged}
    _walk_snapshots(repo, report, damaged_blobs, affected, meter)
    for pid, problem in damaged.items():
        snaps, files = affected[pid]
        report.findings.append(
            Finding(
                "error",
                "damaged-pack",
                f"pack {short(pid)}: {problem}",
                pack=pid.hex(),
                snapshots=sorted(snaps),
                files=sorted(files)[:100],
            )
        )
    for bad in repo.bad:
        # A lock holds no data: one that does not authenticate is in the way, not damage.
        severity = "warning" if bad.name.startswith(LOCK_PREFIX) else "error"
        report.findings.append(Finding(severity, "bad-object", bad.describe(), object=bad.name))
    return report


def _compare_packs(
    report: CheckReport, repo: Repository, stored: dict[bytes, Any], unindexed: set[bytes]
) -> None:
    for pid, count in repo.unstored_packs.items():
        if pid not in stored:
            report.findings.append(
                Finding(
                    "error",
                    "missing-pack",
                    f"pack {short(pid)} is named by the index ({count} blobs) but is not stored",
                    pack=pid.hex(),
                )
            )
    for pid in sorted(unindexed):
        if pack_name(pid) in repo.bad:
            continue  # garbage: a bad-object finding
        report.findings.append(
            Finding(
                "warning",
                "unindexed-pack",
                f"pack {short(pid)} is in no index (left by an interrupted backup; the next "
                "backup adopts it, 'kaikyo repair index' indexes it, 'prune' removes it if "
                "unused)",
                pack=pid.hex(),
            )
        )


def _read_all(
    repo: Repository,
    report: CheckReport,
    packs: list[bytes],
    sizes: dict[bytes, int],
    by_pack: dict[bytes, list[PackEntry]],
    meter: Meter,
) -> dict[bytes, str]:
    damaged: dict[bytes, str] = {}

    def verify(pid: bytes) -> tuple[bytes, str | None]:
        problem = repo.verify_pack(pid, by_pack.get(pid, []))
        meter.add(packs=1, bytes=sizes[pid])
        return pid, problem

    with ThreadPoolExecutor(max_workers=4) as pool:
        for pid, problem in pool.map(verify, packs):
            report.packs_read += 1
            if problem:
                damaged[pid] = problem
    return damaged


def _walk_snapshots(
    repo: Repository,
    report: CheckReport,
    damaged_blobs: dict[bytes, bytes],
    affected: dict[bytes, tuple[set[str], set[str]]],
    meter: Meter,
) -> None:
    meter.phase("checking snapshots")
    try:
        records: list[SnapshotRecord] = repo.list_snapshots()
    except KaikyoError as exc:
        report.findings.append(Finding("error", "snapshot", f"snapshot unreadable: {exc}"))
        return
    report.snapshots = len(records)
    meter.phase("checking snapshots", ("trees",), snapshots=len(records))
    seen_trees: dict[str, bool] = {}
    seen_blobs: set[bytes] = set()
    for rec in records:
        sid = rec.snapshot_id
        stack = [(b"", str(rec.doc.get("tree", "")))]
        while stack:
            base, tid = stack.pop()
            if seen_trees.get(tid) is not None and not damaged_blobs:
                continue
            seen_trees[tid] = True
            try:
                bid = bytes.fromhex(tid)
                if bid in damaged_blobs:
                    pid = damaged_blobs[bid]
                    affected[pid][0].add(sid)
                    affected[pid][1].add((base or b"/").decode("utf-8", "backslashreplace"))
                    continue
                nodes = decode_nodes(repo.load_blob(bid))
            except (KaikyoError, ValueError) as exc:
                report.findings.append(
                    Finding(
                        "error",
                        "tree",
                        f"snapshot {short(sid)}: tree at "
                        f"{base.decode('utf-8', 'backslashreplace') or '/'}"
                        f" unreadable: {exc}",
                        snapshots=[sid],
                    )
                )
                continue
            report.trees += 1
            meter.add(trees=1)
            for node in nodes:
                path = base + b"/" + node.name
                _check_content(repo, report, sid, path, node, seen_blobs, damaged_blobs, affected)
                if node.subtree is not None:
                    stack.append((path, node.subtree.hex()))
        meter.add(snapshots=1)
    report.blobs = len(seen_blobs)


def _check_content(
    repo: Repository,
    report: CheckReport,
    sid: str,
    path: bytes,
    node: TreeNode,
    seen_blobs: set[bytes],
    damaged_blobs: dict[bytes, bytes],
    affected: dict[bytes, tuple[set[str], set[str]]],
) -> None:
    """A file's blobs: each in some pack, and the files that a damaged pack costs."""
    for blob in node.blob_ids():
        if blob in damaged_blobs:
            pid = damaged_blobs[blob]
            affected[pid][0].add(sid)
            affected[pid][1].add(path.decode("utf-8", "backslashreplace"))
        elif blob not in seen_blobs:
            seen_blobs.add(blob)
            if blob not in repo.index:
                shown = path.decode("utf-8", "backslashreplace")
                report.findings.append(
                    Finding(
                        "error",
                        "missing-blob",
                        f"snapshot {short(sid)}: {shown} needs blob {short(blob)}, "
                        "which is in no pack",
                        snapshots=[sid],
                        files=[shown],
                    )
                )
