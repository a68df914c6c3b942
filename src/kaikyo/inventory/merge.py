"""Merge what the BMCs said (``inventory discover``) into the planner's fleet.

Discovery knows a server's power, its BMC and its serial, never its storage, residency or
dependency group: those a person keeps in the fleet file. The merge matches each
discovered row to one fleet row, by id, then serial number, then BMC address (only when
exactly one fleet row has it), and takes the discovered watts when they are better
evidence than the fleet's: a BMC's own average (``measured``) or kaikyo's repeated readings
(``sampled``) over one spot reading (``spot``), any of them over a nameplate (``rated``).
Each replaced row records where its watts now come from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# How much a power figure is worth as evidence (higher wins).
EVIDENCE = {"measured": 3, "sampled": 3, "spot": 1}


def evidence(source: str) -> int:
    """``measured`` and ``sampled`` 3, ``spot`` 1, anything else (rated, file, default) 0."""
    return EVIDENCE.get(source, 0)


@dataclass
class MergeResult:
    rows: list[dict[str, Any]]  # the fleet, in its order, with the merged columns
    columns: list[str]  # the fleet's columns, then any the merge added
    replaced: dict[str, str] = field(default_factory=dict)  # fleet id -> new power source
    kept: dict[str, str] = field(default_factory=dict)  # fleet id -> why its watts stayed
    unmatched: list[dict[str, Any]] = field(default_factory=list)  # discovered, not in fleet
    ambiguous: list[tuple[str, list[str]]] = field(default_factory=list)  # (row, fleet ids)


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _index(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        value = _text(row, key)
        if value:
            found.setdefault(value.lower() if key == "bmc" else value, []).append(i)
    return found


def merge(
    fleet: Sequence[Mapping[str, Any]],
    discovered: Sequence[Mapping[str, Any]],
    fleet_columns: Sequence[str],
) -> MergeResult:
    """The fleet with the discovered watts merged in (see the module's docstring)."""
    rows = [dict(r) for r in fleet]
    columns = list(fleet_columns)
    for extra in ("power_source", "bmc", "serial", "model", "note"):
        if extra not in columns:
            columns.append(extra)
    result = MergeResult(rows, columns)
    by = {key: _index(rows, key) for key in ("id", "serial", "bmc")}
    taken: set[int] = set()
    for found in discovered:
        target = _match(found, by, result)
        if target is None:
            continue
        if target in taken:
            result.ambiguous.append((_text(found, "id"), [_text(rows[target], "id")]))
            continue
        taken.add(target)
        _apply(rows[target], found, result)
    return result


def _match(
    found: Mapping[str, Any], by: Mapping[str, dict[str, list[int]]], result: MergeResult
) -> int | None:
    for key in ("id", "serial", "bmc"):
        value = _text(found, key)
        if not value:
            continue
        hits = by[key].get(value.lower() if key == "bmc" else value, [])
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1 and key != "bmc":
            ids = [_text(result.rows[i], "id") for i in hits]
            result.ambiguous.append((_text(found, "id"), ids))
            return None
    result.unmatched.append(dict(found))
    return None


def _apply(row: dict[str, Any], found: Mapping[str, Any], result: MergeResult) -> None:
    sid = _text(row, "id")
    for key in ("bmc", "serial", "model"):
        if not _text(row, key) and _text(found, key):
            row[key] = _text(found, key)
    new, old = _text(found, "power_source"), _text(row, "power_source") or "rated"
    if evidence(new) == 0:
        result.kept[sid] = f"the BMC gave no reading ({_text(found, 'note') or new})"
        return
    if evidence(new) < evidence(old):
        result.kept[sid] = f"the fleet's {old} watts are better evidence than a {new} reading"
        return
    row["watts_avg"] = found.get("watts_avg")
    row["watts_peak"] = found.get("watts_peak")
    row["power_source"] = new
    bmc = _text(found, "bmc") or "its BMC"
    note = _text(found, "note")
    row["note"] = f"watts {new} by {bmc}" + (f" ({note})" if note else "")
    result.replaced[sid] = new
