"""Turn Redfish resources into inventory rows; pure, behind a one-method ``Getter`` seam.

Reader order follows DOMAIN.md 5.1: legacy ``Chassis/Power.PowerControl`` carries the
min/average/max the planner wants (``PowerMetrics``), so it is read first; the newer
``EnvironmentMetrics.PowerWatts`` gives only the current reading. ``watts_avg`` is
AverageConsumedWatts, else the current reading; ``watts_peak`` is MaxConsumedWatts, else the
current reading. A row says which: ``measured`` (the BMC's own average over its interval),
``spot`` (one current reading, not an average), ``sampled`` (kaikyo's repeated readings,
:func:`sampled_rows`) or ``rated`` (no reading: the fallback figures).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol


class Getter(Protocol):
    def get(self, path: str) -> Mapping[str, Any] | None:
        """The JSON body at ``path``, or None when the service has no such resource."""
        ...


@dataclass(frozen=True, slots=True)
class InventoryRow:
    id: str
    bmc: str
    model: str
    watts_avg: float
    watts_peak: float
    watts_min: float | None
    power_source: str  # measured | spot | sampled | rated
    note: str = ""
    serial: str = ""

    def as_fleet_row(self) -> dict[str, object]:
        """The row under the fleet CSV/JSON column names (storage and residency left blank:
        a person must fill them in; the fleet parser insists)."""
        return {
            "id": self.id,
            "group": self.id,
            "site": "",
            "watts_avg": self.watts_avg,
            "watts_peak": self.watts_peak,
            "storage_gb": "",
            "change_gb_per_day": "",
            "tier": "",
            "max_rtt_ms": "",
            "residency": "",
            "power_source": self.power_source,
            "bmc": self.bmc,
            "model": self.model,
            "serial": self.serial,
            "note": self.note,
        }


def rated_row(
    row_id: str, bmc: str, why: str, rated: tuple[float, float], model: str = ""
) -> InventoryRow:
    return InventoryRow(
        row_id,
        bmc,
        model,
        rated[0],
        rated[1],
        None,
        "rated",
        f"{why}; using rated {rated[0]:g}/{rated[1]:g} W",
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _link(body: Mapping[str, Any], key: str) -> str | None:
    ref = body.get(key)
    return ref.get("@odata.id") if isinstance(ref, Mapping) else None


def _power(getter: Getter, chassis: Mapping[str, Any]) -> tuple[float | None, ...] | None:
    """(current, average, max, min) watts from the chassis, or None when it reports none."""
    current = avg = peak = low = None
    power_uri = _link(chassis, "Power")
    power = getter.get(power_uri) if power_uri else None
    controls = power.get("PowerControl") if power else None
    if isinstance(controls, list) and controls and isinstance(controls[0], Mapping):
        control = controls[0]
        current = _number(control.get("PowerConsumedWatts"))
        metrics = control.get("PowerMetrics")
        if isinstance(metrics, Mapping):
            avg = _number(metrics.get("AverageConsumedWatts"))
            peak = _number(metrics.get("MaxConsumedWatts"))
            low = _number(metrics.get("MinConsumedWatts"))
    if current is None:
        env_uri = _link(chassis, "EnvironmentMetrics")
        env = getter.get(env_uri) if env_uri else None
        reading = env.get("PowerWatts") if env else None
        if isinstance(reading, Mapping):
            current = _number(reading.get("Reading"))
    if current is None and avg is None and peak is None:
        return None
    return current, avg, peak, low


def _identity(getter: Getter, chassis: Mapping[str, Any], bmc: str) -> tuple[str, str]:
    """(row id, model): the host name of the chassis' computer system when it has one."""
    model = str(chassis.get("Model") or "")
    links = chassis.get("Links")
    systems = links.get("ComputerSystems") if isinstance(links, Mapping) else None
    if isinstance(systems, list) and systems and isinstance(systems[0], Mapping):
        system = getter.get(str(systems[0].get("@odata.id")))
        if system:
            model = model or str(system.get("Model") or "")
            host = system.get("HostName")
            if host:
                return str(host), model
    return f"{bmc}/{chassis.get('Id', '?')}", model


def chassis_of(getter: Getter) -> list[Mapping[str, Any]]:
    """The service's chassis resources."""
    collection = getter.get("/redfish/v1/Chassis") or {}
    found = []
    for member in collection.get("Members") or []:
        chassis = getter.get(str(member.get("@odata.id"))) if isinstance(member, Mapping) else None
        if chassis:
            found.append(chassis)
    return found


def row_for(
    getter: Getter, chassis: Mapping[str, Any], bmc: str, rated: tuple[float, float]
) -> InventoryRow:
    """The chassis' row: its BMC's average when it keeps one (``measured``), else its one
    current reading (``spot``), else the ``rated`` fallback."""
    row_id, model = _identity(getter, chassis, bmc)
    serial = str(chassis.get("SerialNumber") or "")
    power = _power(getter, chassis)
    if power is None:
        row = rated_row(row_id, bmc, "no power data (Power, EnvironmentMetrics)", rated, model)
        return replace(row, serial=serial)
    current, avg, peak, low = power
    watts_avg = avg if avg is not None else current
    watts_peak = peak if peak is not None else current
    assert watts_avg is not None or watts_peak is not None
    watts_avg = watts_avg if watts_avg is not None else watts_peak
    watts_peak = watts_peak if watts_peak is not None else watts_avg
    assert watts_avg is not None and watts_peak is not None
    source, note = "measured", ""
    if avg is None:
        source, note = "spot", "one current reading, not an average (try --sample)"
    return InventoryRow(
        row_id, bmc, model, watts_avg, max(watts_peak, watts_avg), low, source, note, serial
    )


def rows_from_service(getter: Getter, bmc: str, rated: tuple[float, float]) -> list[InventoryRow]:
    """One row per chassis of the service; chassis without power data fall back to ``rated``."""
    rows = [row_for(getter, chassis, bmc, rated) for chassis in chassis_of(getter)]
    if not rows:
        rows.append(rated_row(bmc, bmc, "the BMC lists no chassis", rated))
    return rows


def sampled_rows(
    getter: Getter,
    bmc: str,
    rated: tuple[float, float],
    duration_s: float,
    interval_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> list[InventoryRow]:
    """Read every chassis' current power every ``interval_s`` for ``duration_s``: a chassis
    with only current readings gets their mean and maximum (``sampled``, or ``spot`` when
    one reading was all); one whose BMC keeps its own average stays ``measured``, its peak
    raised to the highest reading seen."""
    chassis = chassis_of(getter)
    if not chassis:
        return [rated_row(bmc, bmc, "the BMC lists no chassis", rated)]
    rows = [row_for(getter, c, bmc, rated) for c in chassis]
    samples: list[list[float]] = [[] for _ in chassis]
    end = clock() + duration_s
    while True:
        for i, c in enumerate(chassis):
            power = _power(getter, c)
            if power is not None and power[0] is not None:
                samples[i].append(power[0])
        if clock() + interval_s > end:
            break
        sleep(interval_s)
    out = []
    for row, seen in zip(rows, samples, strict=True):
        if not seen:
            out.append(row)
        elif row.power_source == "measured":
            out.append(replace(row, watts_peak=max(row.watts_peak, *seen)))
        else:
            mean, top = statistics.fmean(seen), max(seen)
            out.append(
                replace(
                    row,
                    watts_avg=round(mean, 1),
                    watts_peak=max(top, mean),
                    watts_min=min(seen),
                    power_source="sampled" if len(seen) > 1 else "spot",
                    note=f"{len(seen)} readings over {duration_s:g} s",
                )
            )
    return out
