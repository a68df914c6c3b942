"""copy: snapshots from a source repository into this one, as restic's ``copy``.

Which snapshots are copied: a source snapshot is skipped when the destination holds a copy of
it: one made from this manifest (its ``copied_from`` names it, whatever was retagged in the
destination since), or one restic would take for it, a destination snapshot whose ``original``
(or id) is the source's ``original`` (or id), with the same time, host, user, paths, tags and
excludes (so a snapshot retagged in the source is copied again, as restic does). A copy's
manifest is the source's with ``original`` set (so ``tag`` in either repository keeps the
link), ``parent`` cleared (it names a snapshot of the source), the new root ``tree``, and
``copied_from`` (the source repository's id, the source snapshot and its root tree).

How: :mod:`~kaikyo.snapshot.translate` reads the blobs and names them anew; the destination
stores only what it lacks. Each snapshot is made durable in crash-safe order, packs, then
index files, then its manifest: a copy killed at any point leaves packs that the next writer
adopts and no manifest naming what is not stored, and a rerun sends only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from typing import Any

from kaikyo.core.constants import BLOB_DATA
from kaikyo.repo import Repository, SnapshotRecord
from kaikyo.snapshot.earlier import Hint
from kaikyo.snapshot.translate import CopyProgress, ReadCounts, Translator

MAX_IN_FLIGHT = 2  # packs uploading at once per writer (each up to the pack size)
_SAME = ("time", "hostname", "username")
_SAME_SETS = ("paths", "tags", "excludes")


@dataclass(frozen=True, slots=True)
class SnapshotCopy:
    """What became of one source snapshot: copied to ``snapshot``, or skipped because
    ``snapshot`` is its copy already. ``counts`` for a copied one (see :meth:`Sent.as_dict`)."""

    source: SnapshotRecord
    snapshot: str
    copied: bool
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class CopyResult:
    snapshots: list[SnapshotCopy] = field(default_factory=list)
    adopted_packs: int = 0  # packs a killed writer left unindexed, indexed by this copy

    def totals(self) -> dict[str, int]:
        copied = [s for s in self.snapshots if s.copied]
        keys = copied[0].counts.keys() if copied else Sent().as_dict().keys()
        out = {
            "snapshots_copied": len(copied),
            "snapshots_skipped": len(self.snapshots) - len(copied),
        }
        out.update({k: sum(s.counts[k] for s in copied) for k in keys})
        out["adopted_packs"] = self.adopted_packs
        return out


@dataclass
class Sent:
    """What copying one snapshot cost: blobs (chunks and trees) read from the source and
    their plaintext; blobs the destination lacked, their plaintext and their sealed bytes
    (what was sent); the plaintext of those it held already."""

    blobs_read: int = 0
    bytes_read: int = 0
    blobs_sent: int = 0
    bytes_new: int = 0
    bytes_sent: int = 0

    def minus(self, earlier: Sent) -> Sent:
        return Sent(*(a - b for a, b in zip(astuple(self), astuple(earlier), strict=True)))

    def as_dict(self) -> dict[str, int]:
        return {
            "blobs_read": self.blobs_read,
            "bytes_read": self.bytes_read,
            "blobs_sent": self.blobs_sent,
            "bytes_sent": self.bytes_sent,
            "bytes_new": self.bytes_new,
            "bytes_deduplicated": max(0, self.bytes_read - self.bytes_new),
        }


def _persistent_id(record: SnapshotRecord) -> str:
    return str(record.doc.get("original") or record.snapshot_id)


def _same_snapshot(copy: dict[str, Any], source: dict[str, Any], source_repo: str) -> bool:
    """restic's ``similarSnapshots``, but for the tree: ids differ between repositories, so
    the root tree is compared only through ``copied_from``, when it names this source."""
    if any(copy.get(k) != source.get(k) for k in _SAME):
        return False
    if any(sorted(copy.get(k) or []) != sorted(source.get(k) or []) for k in _SAME_SETS):
        return False
    origin = copy.get("copied_from")
    if isinstance(origin, dict) and origin.get("repository") == source_repo:
        return bool(origin.get("tree") == source.get("tree"))
    return True


class Copies:
    """The destination's snapshots by the persistent id they carry: their ``original`` and
    their own id (a copy of a copy, or a repository copied by other means)."""

    def __init__(self, records: list[SnapshotRecord], source_repo: str) -> None:
        self._source_repo = source_repo
        self._records: list[SnapshotRecord] = []
        self._by_id: dict[str, list[SnapshotRecord]] = {}
        self._by_source: dict[str, SnapshotRecord] = {}
        for record in records:
            self.add(record)

    def add(self, record: SnapshotRecord) -> None:
        self._records.append(record)
        keys = {record.snapshot_id, str(record.doc.get("original") or record.snapshot_id)}
        for key in keys:
            self._by_id.setdefault(key, []).append(record)
        origin = record.doc.get("copied_from")
        if isinstance(origin, dict) and origin.get("repository") == self._source_repo:
            self._by_source.setdefault(str(origin.get("snapshot")), record)

    def of(self, source: SnapshotRecord) -> SnapshotRecord | None:
        """The destination's copy of ``source``, if it has one: made from this very
        manifest (``copied_from``: so a copy retagged in the destination is still its copy),
        else one restic would take for it."""
        made = self._by_source.get(source.snapshot_id)
        if made is not None:
            return made
        for record in self._by_id.get(_persistent_id(source), []):
            if _same_snapshot(record.doc, source.doc, self._source_repo):
                return record
        return None

    def earlier(self, source: SnapshotRecord) -> Hint | None:
        """The root trees (source, destination) of the copy from this source most like
        ``source``: of its host and paths if there is one, else of its host, else any; the
        latest of those (see :mod:`kaikyo.snapshot.earlier`)."""
        doc = source.doc

        def rank(record: SnapshotRecord) -> tuple[bool, bool, float]:
            same_host = record.doc.get("hostname") == doc.get("hostname")
            same_paths = sorted(record.doc.get("paths") or []) == sorted(doc.get("paths") or [])
            return same_host, same_host and same_paths, record.time

        best: tuple[tuple[bool, bool, float], Hint] | None = None
        for record in self._records:
            hint = self._hint(record)
            if hint is not None and (best is None or rank(record) > best[0]):
                best = rank(record), hint
        return None if best is None else best[1]

    def _hint(self, record: SnapshotRecord) -> Hint | None:
        origin = record.doc.get("copied_from")
        if not isinstance(origin, dict) or origin.get("repository") != self._source_repo:
            return None
        try:
            return _tree_id(origin.get("tree")), _tree_id(record.doc.get("tree"))
        except ValueError:
            return None  # a manifest written by something else than copy: no use


def _tree_id(text: object) -> bytes:
    if not isinstance(text, str) or len(text) != 64:
        raise ValueError("not a tree id")
    return bytes.fromhex(text)


def copied_doc(source: SnapshotRecord, tree: str, source_repo: str) -> dict[str, Any]:
    """The destination's manifest for a copy of ``source`` whose root is now ``tree``."""
    doc = dict(source.doc)
    doc["tree"] = tree
    doc["original"] = _persistent_id(source)
    if "parent" in doc:
        doc["parent"] = None  # a source snapshot's id: nothing in the destination
    doc["copied_from"] = {
        "repository": source_repo,
        "snapshot": source.snapshot_id,
        "tree": source.doc["tree"],
    }
    return doc


class Copier:
    """One copy run: one write session of the destination, one translator, snapshot after
    snapshot."""

    def __init__(self, src: Repository, dst: Repository, progress: CopyProgress | None) -> None:
        self.src, self.dst = src, dst
        self.writer = dst.writer(MAX_IN_FLIGHT)
        self.data = dst.blob_writer(BLOB_DATA, self.writer.pack_done, max_in_flight=MAX_IN_FLIGHT)
        self.translator = Translator(src, dst, self.data, self.writer, progress)

    def _now(self) -> Sent:
        read: ReadCounts = self.translator.read
        data, trees = self.data.stats, self.writer.trees.stats
        return Sent(
            read.blobs,
            read.bytes,
            data.blobs_new + trees.blobs_new,
            data.bytes_new + trees.bytes_new,
            data.bytes_stored + trees.bytes_stored,
        )

    def copy(
        self, source: SnapshotRecord, earlier: Hint | None
    ) -> tuple[SnapshotRecord, dict[str, int]]:
        """Copy one snapshot (``earlier``: the roots of an earlier copy, see
        :mod:`kaikyo.snapshot.earlier`); its manifest is saved once all it names is durable
        and indexed. Returns the new snapshot and what it cost."""
        before = self._now()
        root = self.translator.translate(bytes.fromhex(source.doc["tree"]), earlier)
        self.data.finish()  # the chunks' packs stored, and reported to the session ...
        self.writer.flush()  # ... which stores the trees' pack, then the index files
        cost = self._now().minus(before)
        doc = copied_doc(source, root.hex(), self.src.config.repo_id)
        return SnapshotRecord(self.dst.save_snapshot(doc), doc, None), cost.as_dict()

    def close(self) -> None:
        """Drop what was not flushed (only if abandoned: its packs are never named)."""
        self.data.close()
        self.writer.close()


def run_copy(
    src: Repository,
    dst: Repository,
    sources: list[SnapshotRecord],
    *,
    on_snapshot: Callable[[SnapshotCopy], None] | None = None,
    progress: CopyProgress | None = None,
) -> CopyResult:
    """Copy ``sources`` (snapshots of ``src``, index loaded) into ``dst`` (index loaded, the
    lock a backup takes held), skipping those ``dst`` has copies of; ``on_snapshot`` hears of
    each as it is done (a long run reports as it goes)."""
    result = CopyResult(adopted_packs=dst.adopt_unindexed())
    copies = Copies(dst.list_snapshots(), src.config.repo_id)
    copier = Copier(src, dst, progress)
    try:
        for source in sources:
            existing = copies.of(source)
            if existing is not None:
                done = SnapshotCopy(source, existing.snapshot_id, False)
            else:
                record, counts = copier.copy(source, copies.earlier(source))
                copies.add(record)  # the same snapshot twice in one run: copied once
                done = SnapshotCopy(source, record.snapshot_id, True, counts)
            result.snapshots.append(done)
            if on_snapshot is not None:
                on_snapshot(done)
    finally:
        copier.close()
    return result
