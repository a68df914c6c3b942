"""Snapshot manifests: list those that authenticate, save, delete, resolve ``latest`` or a
prefix. A manifest that does not authenticate is reported by name and skipped, so one planted
or rotten manifest hides nothing else.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kaikyo.core.constants import (
    KIND_SNAPSHOT,
    MAX_SNAPSHOT_SIZE,
    SNAPSHOT_PREFIX,
)
from kaikyo.core.format.envelope import open_object, seal_object
from kaikyo.core.ids import object_id
from kaikyo.errors import IntegrityError, NotFoundError, UsageError
from kaikyo.repo.badobjects import OBJECT_ERRORS, reason_of
from kaikyo.repo.packer import put_content_addressed
from kaikyo.repo.state import RepositoryState, hex_from_name
from kaikyo.store import ObjectInfo, ObjectNotFound


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    snapshot_id: str
    doc: dict[str, Any]
    received: float | None  # when the store received it (the haven's clock), if known

    @property
    def time(self) -> float:
        return float(self.doc["time"])


def _is_hex_id(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def _str_list(doc: dict[str, Any], key: str) -> bool:
    value = doc.get(key, [])
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_snapshot_doc(doc: object) -> dict[str, Any]:
    """A manifest's fields have the types every reader relies on, or ValueError.

    A manifest that authenticates was written with the key, but perhaps by another version of
    kaikyo or by a bug: it is checked once here instead of by every command that reads it.
    Keys it does not know are kept and ignored; ``original`` (the first id of a manifest that
    ``tag`` rewrote, or the manifest ``rewrite`` replaced) is a snapshot id when present.
    """
    if not isinstance(doc, dict):
        raise ValueError("manifest is not a JSON object")
    if not _is_hex_id(doc.get("tree")):
        raise ValueError("manifest has no valid root tree id")
    if "original" in doc and not _is_hex_id(doc["original"]):
        raise ValueError("manifest field 'original' is not a snapshot id")
    t = doc.get("time")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError("manifest has no valid time")
    for key in ("paths", "tags", "excludes"):
        if not _str_list(doc, key):
            raise ValueError(f"manifest field {key!r} is not a list of strings")
    for key in ("hostname", "username"):
        if not isinstance(doc.get(key, ""), str):
            raise ValueError(f"manifest field {key!r} is not a string")
    if not isinstance(doc.get("summary", {}), dict):
        raise ValueError("manifest field 'summary' is not an object")
    return doc


class Snapshots(RepositoryState):
    """The snapshot manifests of an open repository."""

    def list_snapshots(self) -> list[SnapshotRecord]:
        """Every snapshot that authenticates, oldest first; the others are reported as bad
        objects and skipped, so one planted or rotten manifest hides nothing else."""
        infos = list(self.store.list(SNAPSHOT_PREFIX))

        def load(info: ObjectInfo) -> SnapshotRecord | None:
            try:
                if info.size > MAX_SNAPSHOT_SIZE:
                    raise IntegrityError(f"{info.size} bytes is too large for a snapshot")
                raw = self.store.get(info.name)
                self._check_name(info.name, raw)
                doc = check_snapshot_doc(
                    json.loads(
                        open_object(self.cipher, self.compressor, KIND_SNAPSHOT, raw, info.name)
                    )
                )
            except ObjectNotFound:
                return None  # forgotten meanwhile
            except OBJECT_ERRORS as exc:
                self.bad.report(info.name, reason_of(exc))
                return None
            return SnapshotRecord(hex_from_name(info.name), doc, info.mtime)

        with ThreadPoolExecutor(max_workers=8) as pool:
            records = [r for r in pool.map(load, infos) if r is not None]
        return sorted(records, key=lambda r: (r.time, r.snapshot_id))

    def save_snapshot(self, doc: dict[str, Any]) -> str:
        sealed = seal_object(
            self.cipher, self.compressor, KIND_SNAPSHOT, json.dumps(doc, sort_keys=True).encode()
        )
        sid = object_id(sealed)
        put_content_addressed(self.store, SNAPSHOT_PREFIX + sid, sealed)
        return sid

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.store.delete(SNAPSHOT_PREFIX + snapshot_id)

    def find_snapshot(
        self, ref: str, records: list[SnapshotRecord] | None = None
    ) -> SnapshotRecord:
        """Resolve ``latest`` or a (prefix of a) snapshot id."""
        records = self.list_snapshots() if records is None else records
        if ref == "latest":
            if not records:
                raise NotFoundError("the repository has no snapshots yet")
            return records[-1]
        matches = [r for r in records if r.snapshot_id.startswith(ref.lower())]
        if not matches:
            raise NotFoundError(f"no snapshot matches {ref!r}", "list them with 'kaikyo snapshots'")
        if len(matches) > 1:
            raise UsageError(f"snapshot id {ref!r} is ambiguous; give more digits")
        return matches[0]
