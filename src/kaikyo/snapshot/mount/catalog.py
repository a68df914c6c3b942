"""The mount's top levels, made from the snapshot list alone: ``snapshots/``, ``ids/``,
``hosts/HOST/``, ``tags/TAG/``, as restic lays them out.

Pure (no repository, no clock): the records and the time of the mount go in, a tree of
:class:`VirtualDir`, :class:`VirtualLink` and :class:`SnapshotDir` comes out. A snapshot's
directory is named by its time in the local time zone, in restic's default format
(``2026-12-04T10:00:00+09:00``, ``...Z`` in UTC); two snapshots of one second get ``-1``,
``-2`` after the later ones' names, as restic does. Each directory of snapshots has a symlink
``latest`` to the newest. ``ids/`` lists short ids; a longer prefix (up to the full id) is
found too, though not listed.

Names are bytes, as in a snapshot's trees. A host or tag that cannot be a file name (empty,
``.``, ``..``, holding ``/`` or NUL) is left out of ``hosts/`` and ``tags/``; its snapshots
are still in ``snapshots/`` and ``ids/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kaikyo.repo import SnapshotRecord

LATEST = b"latest"
SHORT_ID = 8


@dataclass(frozen=True, slots=True)
class SnapshotDir:
    """A snapshot's directory: its root tree, shown as a directory."""

    snapshot_id: str
    tree: bytes
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class VirtualLink:
    target: bytes
    mtime_ns: int


@dataclass(slots=True)
class VirtualDir:
    """A directory the mount makes up. ``prefixes``: for ``ids/``, the snapshots a longer
    prefix of their id also finds."""

    mtime_ns: int
    children: dict[bytes, VirtualDir | VirtualLink | SnapshotDir] = field(default_factory=dict)
    prefixes: dict[str, SnapshotDir] | None = None

    def lookup(self, name: bytes) -> VirtualDir | VirtualLink | SnapshotDir | None:
        found = self.children.get(name)
        if found is not None or self.prefixes is None:
            return found
        try:
            text = name.decode("ascii").lower()
        except UnicodeDecodeError:
            return None
        if not SHORT_ID < len(text) <= 64:
            return None
        hits = [d for sid, d in self.prefixes.items() if sid.startswith(text)]
        return hits[0] if len(hits) == 1 else None


Entry = VirtualDir | VirtualLink | SnapshotDir


def time_name(t: float) -> str:
    """A snapshot time as restic names its directory: local time, to the second, with the
    zone's offset (``Z`` for UTC)."""
    local = datetime.fromtimestamp(int(t), UTC).astimezone()
    text = local.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _ns(t: float) -> int:
    return int(round(t * 1_000_000_000))


def usable_name(text: str) -> bytes | None:
    """``text`` as one file name, or None if it cannot be one."""
    raw = text.encode("utf-8")
    if raw in (b"", b".", b"..") or b"/" in raw or b"\0" in raw:
        return None
    return raw


def _snapshots_dir(records: list[SnapshotRecord], dirs: dict[str, SnapshotDir]) -> VirtualDir:
    """A directory of the ``records`` (oldest first) named by time, with ``latest``."""
    out = VirtualDir(dirs[records[-1].snapshot_id].mtime_ns)
    last = b""
    for r in records:
        base = time_name(r.time).encode()
        name, n = base, 0
        while name in out.children:
            n += 1
            name = base + b"-%d" % n
        out.children[name] = dirs[r.snapshot_id]
        last = name
    out.children[LATEST] = VirtualLink(last, out.mtime_ns)
    return out


def _grouped(
    records: list[SnapshotRecord], dirs: dict[str, SnapshotDir], keys_of: Iterable[list[str]]
) -> dict[bytes, VirtualDir]:
    groups: dict[bytes, list[SnapshotRecord]] = {}
    for r, keys in zip(records, keys_of, strict=True):
        for key in dict.fromkeys(keys):
            name = usable_name(key)
            if name is not None:
                groups.setdefault(name, []).append(r)
    return {name: _snapshots_dir(rs, dirs) for name, rs in sorted(groups.items())}


def build_catalog(records: list[SnapshotRecord], mounted_ns: int) -> VirtualDir:
    """The mount's root for the ``records`` (any order). An empty directory's time is
    ``mounted_ns``; another's is that of its newest snapshot."""
    records = sorted(records, key=lambda r: (r.time, r.snapshot_id))
    dirs = {
        r.snapshot_id: SnapshotDir(r.snapshot_id, bytes.fromhex(r.doc["tree"]), _ns(r.time))
        for r in records
    }
    newest = dirs[records[-1].snapshot_id].mtime_ns if records else mounted_ns
    root = VirtualDir(newest)
    ids = VirtualDir(newest, prefixes={r.snapshot_id: dirs[r.snapshot_id] for r in records})
    for r in records:
        base = r.snapshot_id[:SHORT_ID].encode()
        name, n = base, 0
        while name in ids.children:
            n += 1
            name = base + b"-%d" % n
        ids.children[name] = dirs[r.snapshot_id]
    root.children[b"snapshots"] = _snapshots_dir(records, dirs) if records else VirtualDir(newest)
    root.children[b"ids"] = ids
    hosts = _grouped(records, dirs, ([r.doc.get("hostname", "")] for r in records))
    tags = _grouped(records, dirs, (r.doc.get("tags", []) for r in records))
    root.children[b"hosts"] = VirtualDir(newest, dict(hosts))
    root.children[b"tags"] = VirtualDir(newest, dict(tags))
    return root
