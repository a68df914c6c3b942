"""Frozen outputs of the planner and their JSON form (the ``--json`` contract)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Move:
    server: str
    group: str
    wave: int


@dataclass(frozen=True, slots=True)
class GroupOwner:
    """Who answers for a dependency group, and who signs off its cut-over."""

    group: str
    owner: str
    sign_off: str


@dataclass(frozen=True, slots=True)
class WaveReport:
    """One wave: seeding runs [seed_start, seed_end], the cut-over in [cutover,
    cutover_end) (a window of the calendar). Wall-clock times of the plan's time zone."""

    index: int
    start: dt.datetime
    end: dt.datetime
    cutover: dt.datetime
    cutover_end: dt.datetime
    go_no_go: dt.datetime  # the decision to cut over, before the window opens
    rollback_by: dt.datetime  # the last moment to decide to roll back within the window
    owners: tuple[GroupOwner, ...]  # per group of the wave
    groups: tuple[str, ...]
    servers: int
    storage_gb: float
    send_gb: float
    seed_start: dt.datetime | None
    seed_end: dt.datetime | None
    seed_hours: float
    final_delta_hours: float
    downtime_hours: float
    kw_removed: float
    cumulative_kw: float
    link_capacity_gb: float
    cumulative_capacity_gb: float


@dataclass(frozen=True, slots=True)
class Savings:
    """Effects over the restriction period (from the cut-overs until ``restriction_end``)."""

    period_start: dt.date
    period_end: dt.date
    kw_removed_primary: float
    kw_added_haven: float
    kwh_saved_primary: float
    kwh_added_haven: float
    cost_saved: float
    cost_added: float
    co2_saved_kg: float
    co2_added_kg: float
    currency: str

    @property
    def net_kwh(self) -> float:
        """The change in energy drawn, primary and haven together (negative: less)."""
        return self.kwh_added_haven - self.kwh_saved_primary

    @property
    def net_cost(self) -> float:
        return self.cost_added - self.cost_saved

    @property
    def net_co2_kg(self) -> float:
        return self.co2_added_kg - self.co2_saved_kg


@dataclass(frozen=True, slots=True)
class Project:
    """The project's cost against the power it saves (kaikyo.plan.report.project)."""

    one_off: float  # labour for the servers moved
    running_per_month: float  # line and haven rent
    energy_saving_per_month: float  # the net power cost saved, primary and haven together
    net_per_month: float  # saving less running cost
    racks: int  # at the haven, when it is priced by rack
    payback_months: float | None  # None: the month's net is no gain, it never pays back
    currency: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer: what moves when, what it achieves and why it cannot do better."""

    feasible: bool
    status: str  # solver status: optimal / time-limit
    method: str  # how optimality was established (see kaikyo.plan.planner.solve)
    mip_gap: float
    objective: str
    objective_value: float
    target_kw: float
    baseline_peak_kw: float
    reduction_kw: float
    reduction_pct: float
    storage_gb_moved: float
    send_gb: float
    moves: tuple[Move, ...]
    waves: tuple[WaveReport, ...]
    binding: tuple[str, ...]
    blockers: tuple[str, ...]
    notes: tuple[str, ...]
    savings: Savings
    start: dt.date
    deadline: dt.date
    timezone: str = "Asia/Tokyo"  # of every time in the plan (IANA name)
    margin_pct: float = 0.0  # asked for: the plan reaches target x (1 + margin)
    planned_kw: float = 0.0  # the target with its margin
    rated_spread_pct: float = 20.0
    # What the plan removes if servers with rated (not measured) watts draw rated_spread
    # less, and more, than rated; and the share of the reduction resting on rated watts.
    reduction_range_kw: tuple[float, float] = (0.0, 0.0)
    rated_share_pct: float = 0.0
    project: Project | None = None  # when the site prices the project

    @property
    def cap_kw(self) -> float:
        return self.baseline_peak_kw - self.target_kw


def _iso(value: dt.datetime | None, zone: str) -> str | None:
    """ISO 8601 with the offset of the plan's zone: ``2011-06-04T20:00+09:00``."""
    if value is None:
        return None
    return value.replace(tzinfo=zoneinfo.ZoneInfo(zone)).isoformat(timespec="minutes")


def _r(value: float, digits: int = 3) -> float:
    return round(value, digits)


def wave_json(w: WaveReport, zone: str) -> dict[str, Any]:
    return {
        "wave": w.index,
        "start": _iso(w.start, zone),
        "end": _iso(w.end, zone),
        "cutover": _iso(w.cutover, zone),
        "cutover_start": _iso(w.cutover, zone),
        "cutover_end": _iso(w.cutover_end, zone),
        "go_no_go": _iso(w.go_no_go, zone),
        "rollback_by": _iso(w.rollback_by, zone),
        "owners": [{"group": o.group, "owner": o.owner, "sign_off": o.sign_off} for o in w.owners],
        "groups": list(w.groups),
        "servers": w.servers,
        "storage_gb": _r(w.storage_gb),
        "send_gb": _r(w.send_gb),
        "seed_start": _iso(w.seed_start, zone),
        "seed_end": _iso(w.seed_end, zone),
        "seed_hours": _r(w.seed_hours),
        "final_delta_hours": _r(w.final_delta_hours),
        "downtime_hours": _r(w.downtime_hours),
        "kw_removed": _r(w.kw_removed),
        "cumulative_kw": _r(w.cumulative_kw),
        "link_capacity_gb": _r(w.link_capacity_gb),
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    """The stable ``--json`` document; keys are only ever added."""
    s = plan.savings
    return {
        "feasible": plan.feasible,
        "status": plan.status,
        "method": plan.method,
        "mip_gap": plan.mip_gap,
        "objective": plan.objective,
        "objective_value": _r(plan.objective_value),
        "start": plan.start.isoformat(),
        "deadline": plan.deadline.isoformat(),
        "baseline_peak_kw": _r(plan.baseline_peak_kw),
        "target_kw": _r(plan.target_kw),
        "margin_pct": _r(plan.margin_pct),
        "planned_kw": _r(plan.planned_kw),
        "rated_spread_pct": _r(plan.rated_spread_pct),
        "reduction_range_kw": [_r(plan.reduction_range_kw[0]), _r(plan.reduction_range_kw[1])],
        "rated_share_pct": _r(plan.rated_share_pct),
        "cap_kw": _r(plan.cap_kw),
        "reduction_kw": _r(plan.reduction_kw),
        "reduction_pct": _r(plan.reduction_pct),
        "storage_gb_moved": _r(plan.storage_gb_moved),
        "send_gb": _r(plan.send_gb),
        "moves": [{"server": m.server, "group": m.group, "wave": m.wave} for m in plan.moves],
        "timezone": plan.timezone,
        "waves": [wave_json(w, plan.timezone) for w in plan.waves],
        "binding": list(plan.binding),
        "blockers": list(plan.blockers),
        "notes": list(plan.notes),
        "savings": {
            "period_start": s.period_start.isoformat(),
            "period_end": s.period_end.isoformat(),
            "kw_removed_primary": _r(s.kw_removed_primary),
            "kw_added_haven": _r(s.kw_added_haven),
            "kwh_saved_primary": _r(s.kwh_saved_primary, 1),
            "kwh_added_haven": _r(s.kwh_added_haven, 1),
            "cost_saved": _r(s.cost_saved, 0),
            "cost_added": _r(s.cost_added, 0),
            "co2_saved_kg": _r(s.co2_saved_kg, 1),
            "co2_added_kg": _r(s.co2_added_kg, 1),
            "currency": s.currency,
        },
        "project": None
        if plan.project is None
        else {
            "one_off": _r(plan.project.one_off, 0),
            "running_per_month": _r(plan.project.running_per_month, 0),
            "energy_saving_per_month": _r(plan.project.energy_saving_per_month, 0),
            "net_per_month": _r(plan.project.net_per_month, 0),
            "racks": plan.project.racks,
            "payback_months": None
            if plan.project.payback_months is None
            else _r(plan.project.payback_months, 2),
            "currency": plan.project.currency,
        },
        # Primary and haven together over the restriction period; negative is less.
        "net": {
            "kwh": _r(s.net_kwh, 1),
            "jpy": _r(s.net_cost, 0) if s.currency == "JPY" else None,
            "cost": _r(s.net_cost, 0),
            "currency": s.currency,
            "co2_t": _r(s.net_co2_kg / 1000.0, 3),
        },
    }
