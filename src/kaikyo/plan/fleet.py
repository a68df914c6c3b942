"""Fleet inventory parsing: CSV, YAML or JSON text into validated :class:`Server` rows.

Every problem is reported as a ConfigError naming the row (1-based, as a spreadsheet shows it;
the CSV header is row 1) and the field, so a planner can fix the file without guessing.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from kaikyo.errors import ConfigError
from kaikyo.plan import defaults
from kaikyo.plan.model import RESIDENCIES, Server

COLUMNS = (
    "id",
    "group",
    "site",
    "watts_avg",
    "watts_peak",
    "storage_gb",
    "change_gb_per_day",
    "tier",
    "max_rtt_ms",
    "residency",
)
OPTIONAL_COLUMNS = (
    "downtime_window_h",
    "role",
    "power_source",
    "bmc",
    "model",
    "serial",
    "note",
    # Governance: who answers for the server's dependency group, and who signs off its
    # cut-over (shown per wave in the plan, its workbook and its report).
    "owner",
    "sign_off",
)
FORMATS = ("csv", "yaml", "json")


def format_for(name: str) -> str:
    """The fleet format implied by a file name's suffix."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".json"):
        return "json"
    raise ConfigError(f"fleet {name}: unknown format", hint="use a .csv, .yaml, .yml or .json file")


def parse_fleet(text: str, fmt: str) -> tuple[Server, ...]:
    """Parse and validate a whole fleet; raises ConfigError on the first bad row."""
    rows, first_row = fleet_rows(text, fmt)
    servers = tuple(_server(row, first_row + i) for i, row in enumerate(rows))
    seen: dict[str, int] = {}
    for i, server in enumerate(servers):
        if server.id in seen:
            raise ConfigError(
                f"fleet row {first_row + i}: field 'id': duplicate id {server.id!r} "
                f"(first in row {seen[server.id]})"
            )
        seen[server.id] = first_row + i
    if not servers:
        raise ConfigError("fleet: no servers", hint="the file needs at least one row")
    return servers


def fleet_rows(text: str, fmt: str) -> tuple[Sequence[Mapping[str, Any]], int]:
    """The raw rows of a fleet file (each a mapping of column to value, unvalidated) and the
    spreadsheet row number of the first, for messages."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        header = reader.fieldnames or []
        missing = [c for c in ("id", "storage_gb", "residency") if c not in header]
        if missing:
            raise ConfigError(f"fleet row 1: header lacks column(s) {', '.join(missing)}")
        return list(reader), 2
    try:
        data = yaml.safe_load(text) if fmt == "yaml" else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"fleet: not valid {fmt}: {exc}") from exc
    if isinstance(data, Mapping):
        data = data.get("servers")
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise ConfigError(f"fleet: {fmt} must be a list of rows or a mapping with 'servers'")
    return data, 1


def _server(row: Mapping[str, Any], n: int) -> Server:
    extra = set(row) - set(COLUMNS) - set(OPTIONAL_COLUMNS) - {None}
    if extra:
        raise ConfigError(f"fleet row {n}: unknown field(s) {', '.join(sorted(map(str, extra)))}")
    sid = _text(row, n, "id", required=True)
    avg = _number(row, n, "watts_avg")
    peak = _number(row, n, "watts_peak")
    given = avg is not None or peak is not None
    source = _text(row, n, "power_source") or ("file" if given else "default")
    if avg is None and peak is None:
        avg, peak = defaults.SERVER_WATTS_AVG, defaults.SERVER_WATTS_PEAK
    avg = peak if avg is None else avg
    peak = avg if peak is None else peak
    assert avg is not None and peak is not None  # at least one was given or defaulted
    if peak < avg:
        raise ConfigError(
            f"fleet row {n} (id {sid!r}): field 'watts_peak': {peak:g} is below watts_avg {avg:g}"
        )
    residency = _text(row, n, "residency", required=True)
    if residency not in RESIDENCIES:
        raise ConfigError(
            f"fleet row {n} (id {sid!r}): field 'residency': {residency!r} is not "
            f"one of {', '.join(RESIDENCIES)}"
        )
    tier = _number(row, n, "tier")
    if tier is not None and (tier != int(tier) or tier < 1):
        raise ConfigError(f"fleet row {n} (id {sid!r}): field 'tier': expected 1, 2, 3, ...")
    return Server(
        id=sid,
        group=_text(row, n, "group") or sid,
        site=_text(row, n, "site"),
        watts_avg=avg,
        watts_peak=peak,
        storage_gb=_number(row, n, "storage_gb", required=True) or 0.0,
        change_gb_per_day=_number(row, n, "change_gb_per_day") or 0.0,
        tier=int(tier or 3),
        max_rtt_ms=_number(row, n, "max_rtt_ms"),
        residency=residency,
        downtime_window_h=_number(row, n, "downtime_window_h"),
        role=_text(row, n, "role"),
        power_source=source,
        owner=_text(row, n, "owner"),
        sign_off=_text(row, n, "sign_off"),
    )


def _text(row: Mapping[str, Any], n: int, field: str, required: bool = False) -> str:
    value = row.get(field)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ConfigError(f"fleet row {n}: field {field!r} is required")
    return text


def _number(row: Mapping[str, Any], n: int, field: str, required: bool = False) -> float | None:
    raw = row.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ConfigError(f"fleet row {n}: field {field!r} is required")
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"fleet row {n}: field {field!r}: expected a number, got {raw!r}"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"fleet row {n}: field {field!r}: expected a number >= 0, got {raw!r}")
    return value
