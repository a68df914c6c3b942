"""Re-check a plan against every constraint from the raw server rows, without the solver.

This deliberately recomputes everything (bytes, link hours, kW) in the simplest possible way
instead of reusing the MILP's coefficients, so a modelling bug shows up as a violation here.
Used by the property-based tests and by the CLI as a self-check before printing a plan.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from kaikyo.plan.model import MUST_STAY, PlanRequest, Server, Site
from kaikyo.plan.result import Plan

_TOL = 1e-6


def _check_calendar(plan: Plan, site: Site, request: PlanRequest) -> list[str]:
    """Every cut-over inside a declared window (when the site declares windows), touching
    no holiday or blackout date, over before the deadline, the waves in time order."""
    problems = []
    deadline = dt.datetime.combine(request.deadline, dt.time())
    start = dt.datetime.combine(request.start, dt.time())
    previous = start
    for w in plan.waves:
        where = f"wave {w.index}: cut-over {w.cutover:%Y-%m-%d %H:%M}"
        if w.cutover < previous or w.cutover_end < w.cutover:
            problems.append(f"{where} is out of order")
        previous = w.cutover_end
        if not w.go_no_go <= w.cutover <= w.rollback_by <= w.cutover_end:
            problems.append(f"{where}: go/no-go or rollback deadline outside their order")
        if w.cutover_end > deadline:
            problems.append(f"{where} ends after the deadline {request.deadline}")
        day, last = w.cutover.date(), (w.cutover_end - dt.timedelta(microseconds=1)).date()
        while day <= max(last, w.cutover.date()):
            if site.is_closed(day):
                problems.append(f"{where} touches {day}, a holiday or blackout date")
            day += dt.timedelta(days=1)
        if site.cutover_windows:
            monday = dt.datetime.combine(
                w.cutover.date() - dt.timedelta(days=w.cutover.weekday()), dt.time()
            )
            minute = int((w.cutover - monday).total_seconds() // 60)
            length = int((w.cutover_end - w.cutover).total_seconds() // 60)
            if not any(c.start == minute and c.minutes == length for c in site.cutover_windows):
                problems.append(f"{where} is in no declared cut-over window")
    return problems


def _link_gb_until(site: Site, start: dt.date, end: dt.datetime) -> float:
    t, total = dt.datetime.combine(start, dt.time()), 0.0
    while t < end:
        mbps = site.link_mbps
        for limit in site.link_limits:
            weekday_ok = not limit.weekdays_only or t.weekday() < 5
            if weekday_ok and limit.start_hour <= t.hour < limit.end_hour:
                mbps = min(mbps, limit.mbps)
        total += mbps * 1e6 / 8 * 3600 / 1e9 * site.link_usable
        t += dt.timedelta(hours=1)
    return total


def _send_gb(s: Server, site: Site, request: PlanRequest) -> float:
    days = request.wave_days + site.delta_interval_hours / 24.0
    return (s.storage_gb + s.change_gb_per_day * days) * site.dedup_ratio


def verify_plan(
    plan: Plan, servers: Sequence[Server], site: Site, request: PlanRequest
) -> list[str]:
    """Every violated constraint, in words; an empty list means the plan is valid."""
    problems: list[str] = []
    by_id = {s.id: s for s in servers}
    ends = [w.cutover for w in plan.waves]
    wave_of: dict[str, int] = {}
    for m in plan.moves:
        s = by_id.get(m.server)
        if s is None:
            problems.append(f"{m.server}: not in the fleet")
            continue
        if m.server in wave_of:
            problems.append(f"{m.server}: moved twice")
        wave_of[m.server] = m.wave
        if m.group != s.group:
            problems.append(f"{m.server}: reported in group {m.group}, fleet says {s.group}")
        if not 1 <= m.wave <= len(ends):
            problems.append(f"{m.server}: wave {m.wave} outside 1..{len(ends)}")
        if s.residency == MUST_STAY:
            problems.append(f"{m.server}: must stay but moves")
        if s.max_rtt_ms is not None and s.max_rtt_ms < site.rtt_ms:
            problems.append(f"{m.server}: tolerates {s.max_rtt_ms} ms, haven is {site.rtt_ms} ms")
    problems += _check_groups(servers, wave_of)
    problems += _check_calendar(plan, site, request)
    windows = [(w.cutover_end - w.cutover).total_seconds() / 3600 for w in plan.waves]
    problems += _check_waves(servers, wave_of, site, request, ends, windows)
    moved = [by_id[i] for i in wave_of if i in by_id]
    reduction = sum(s.watts_peak for s in moved) * site.pue_primary / 1000.0
    if abs(reduction - plan.reduction_kw) > _TOL * max(1.0, reduction):
        problems.append(f"reduction reported {plan.reduction_kw} kW, servers give {reduction} kW")
    target = request.planned_kw(site.baseline_peak_kw)
    if plan.feasible and reduction < target * (1 - _TOL):
        problems.append(f"marked feasible but removes {reduction:.3f} of {target:.3f} kW")
    return problems


def _check_groups(servers: Sequence[Server], wave_of: dict[str, int]) -> list[str]:
    waves_by_group: dict[str, set[int | None]] = defaultdict(set)
    for s in servers:
        waves_by_group[s.group].add(wave_of.get(s.id))
    return [
        f"group {g}: split across {sorted(map(str, w))}"
        for g, w in waves_by_group.items()
        if len(w) > 1
    ]


def _check_waves(
    servers: Sequence[Server],
    wave_of: dict[str, int],
    site: Site,
    request: PlanRequest,
    ends: list[dt.datetime],
    windows: list[float],
) -> list[str]:
    problems = []
    rate_gb_h = site.link_mbps * 1e6 / 8 * 3600 / 1e9 * site.link_usable
    cumulative = 0.0
    for w, end in enumerate(ends, 1):
        members = [s for s in servers if wave_of.get(s.id) == w]
        cumulative += sum(_send_gb(s, site, request) for s in members)
        capacity = _link_gb_until(site, request.start, end)
        if cumulative > capacity * (1 + _TOL) + _TOL:
            problems.append(
                f"wave {w}: {cumulative:.1f} GB to send by {end}, link carries {capacity:.1f} GB"
            )
        if request.servers_per_wave is not None and len(members) > request.servers_per_wave:
            problems.append(f"wave {w}: {len(members)} cut-overs, limit {request.servers_per_wave}")
        delta_gb = (
            sum(s.change_gb_per_day for s in members)
            * site.dedup_ratio
            * (site.delta_interval_hours / 24.0)
        )
        declared = bool(site.cutover_windows) or site.cutover_window_h is not None
        window = windows[w - 1]
        if (
            declared
            and members
            and (site.cutover_hours + delta_gb / rate_gb_h > window * (1 + _TOL) + _TOL)
        ):
            problems.append(f"wave {w}: cut-over exceeds its {window:g} h window")
        problems += _check_downtime(members, servers, site, rate_gb_h)
    if site.haven_capacity_kw is not None:
        moved = [s for s in servers if s.id in wave_of]
        kw = sum(s.watts_avg for s in moved) * site.pue_haven / 1000.0
        if kw > site.haven_capacity_kw * (1 + _TOL):
            problems.append(f"haven: {kw:.1f} kW exceeds {site.haven_capacity_kw} kW")
    return problems


def _check_downtime(
    members: Sequence[Server], servers: Sequence[Server], site: Site, rate_gb_h: float
) -> list[str]:
    problems = []
    for s in members:
        if s.downtime_window_h is None:
            continue
        group = [o for o in servers if o.group == s.group]
        delta_gb = (
            sum(o.change_gb_per_day for o in group)
            * site.dedup_ratio
            * (site.delta_interval_hours / 24.0)
        )
        if site.cutover_hours + delta_gb / rate_gb_h > s.downtime_window_h * (1 + _TOL):
            problems.append(f"{s.id}: its group's cut-over exceeds its {s.downtime_window_h} h")
    return problems
