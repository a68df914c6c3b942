"""Compose the planner: groups, calendar, MILP, improvement, report, explanation.

Two solves at most for the plan itself: least cost meeting the target; and when that is
infeasible, the largest reachable reduction, then the cheapest plan achieving it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kaikyo.errors import UsageError
from kaikyo.plan import explain
from kaikyo.plan import formulation as f
from kaikyo.plan.calendar import wave_slots
from kaikyo.plan.groups import build_groups
from kaikyo.plan.improve import pull_earlier
from kaikyo.plan.model import MEASURED_SOURCES, PlanRequest, Server, Site
from kaikyo.plan.report import group_owners, moves_for, project, savings, wave_reports
from kaikyo.plan.result import Plan
from kaikyo.plan.schedule import pack_waves
from kaikyo.plan.solver import OPTIMAL, HighsSolver, Solver


def select_site(servers: Sequence[Server], site: Site) -> tuple[list[Server], list[str]]:
    """Servers of this site (all of them when the site file names none)."""
    if not site.name:
        return list(servers), []
    mine = [s for s in servers if s.site in ("", site.name)]
    skipped = len(servers) - len(mine)
    notes = [f"{skipped} servers belong to other sites and are left out"] if skipped else []
    return mine, notes


def make_plan(
    servers: Sequence[Server], site: Site, request: PlanRequest, solver: Solver | None = None
) -> Plan:
    """The optimal plan for ``request`` (or the best reachable one, with its blockers)."""
    if request.deadline <= request.start:
        raise UsageError(f"deadline {request.deadline} is not after start {request.start}")
    if request.wave_days < 1:
        raise UsageError("--wave-days must be at least 1")
    solver = solver or HighsSolver()
    chosen, notes = select_site(servers, site)
    groups = build_groups(chosen, site, request.wave_days)
    slots = wave_slots(site, request.start, request.deadline, request.wave_days)
    target_kw = request.target.resolve_kw(site.baseline_peak_kw)
    planned_kw = request.planned_kw(site.baseline_peak_kw)
    movable = [g for g in groups if g.movable]

    inst = f.Instance(tuple(movable), slots, site, request, planned_kw)
    sol = solve(inst, f.Spec(), solver)
    feasible = sol.waves is not None
    if sol.waves is None:
        sol = _best_reachable(inst, solver)
    assignment = sol.waves if sol.waves is not None else [None] * len(movable)
    assignment = pull_earlier(movable, assignment, slots, site, request)
    by_name = dict(zip((g.name for g in movable), assignment, strict=True))
    waves = [by_name.get(g.name) for g in groups]

    reports = wave_reports(groups, waves, slots, site, request.start, group_owners(chosen))
    reduction = sum(r.kw_removed for r in reports)
    if feasible:  # when infeasible, the same shares head the blockers instead
        notes += explain.load_notes(groups, site)
    blockers = [] if feasible else explain.blockers(groups, inst, solver)
    moves = moves_for(groups, waves)
    saved = savings(groups, waves, site, request.deadline)
    rated_kw = _rated_kw(chosen, {m.server for m in moves}, site)
    spread = request.rated_spread_pct / 100.0
    low, high = reduction - rated_kw * spread, reduction + rated_kw * spread
    return Plan(
        feasible=feasible,
        status=sol.status,
        method=sol.method,
        mip_gap=sol.gap,
        objective=request.objective.value,
        objective_value=sum(
            f.group_cost(g, request) for g, w in zip(groups, waves, strict=True) if w is not None
        ),
        target_kw=target_kw,
        baseline_peak_kw=site.baseline_peak_kw,
        reduction_kw=reduction,
        reduction_pct=100.0 * reduction / site.baseline_peak_kw,
        storage_gb_moved=sum(r.storage_gb for r in reports),
        send_gb=sum(r.send_gb for r in reports),
        moves=moves,
        project=project(site, len(moves), saved),
        waves=reports,
        binding=tuple(explain.binding(inst, assignment, reports, feasible)),
        blockers=tuple(blockers),
        notes=tuple(notes),
        savings=saved,
        start=request.start,
        deadline=request.deadline,
        timezone=site.timezone,
        margin_pct=request.margin_pct,
        planned_kw=planned_kw,
        rated_spread_pct=request.rated_spread_pct,
        reduction_range_kw=(low, high),
        rated_share_pct=100.0 * rated_kw / reduction if reduction else 0.0,
    )


def _rated_kw(servers: Sequence[Server], moved: set[str], site: Site) -> float:
    """The part of the reduction that rests on figures no meter gave over time: rated,
    defaulted, or one spot reading."""
    return sum(
        s.watts_peak * site.pue_primary / 1000.0
        for s in servers
        if s.id in moved and s.power_source not in MEASURED_SOURCES
    )


@dataclass(frozen=True)
class Solved:
    """A schedule (wave per movable group) or None, and how it was proven."""

    waves: list[int | None] | None
    status: str
    gap: float
    objective: float
    method: str  # "selection+packing" or "full MILP"


def solve(inst: f.Instance, spec: f.Spec, solver: Solver) -> Solved:
    """Optimal schedule for ``spec``: the selection relaxation when its answer packs into
    waves (then it is optimal for the full model), else the full MILP."""
    sel = solver.solve(f.build_selection(inst, spec))
    if sel.x is None:  # the relaxation is infeasible, so the full problem is too
        return Solved(None, sel.status, sel.gap, sel.objective, "selection")
    chosen = [bool(v > 0.5) for v in sel.x[: len(inst.groups)]]
    waves = pack_waves(inst.groups, chosen, inst.slots, inst.site, inst.request)
    if waves is not None:
        return Solved(waves, sel.status, sel.gap, sel.objective, "selection+packing")
    full = solver.solve(f.build(inst, spec))
    if full.x is None:
        return Solved(None, full.status, full.gap, full.objective, "full MILP")
    return Solved(
        f.decode(full.x, len(inst.groups), len(inst.slots)),
        full.status,
        full.gap,
        full.objective,
        "full MILP",
    )


def _best_reachable(inst: f.Instance, solver: Solver) -> Solved:
    """Maximise the reduction; then, holding it, minimise the request's cost."""
    best = solve(inst, f.Spec(mode=f.MAX_REDUCTION), solver)
    if best.waves is None or best.status != OPTIMAL:
        return best
    reached = -best.objective
    if reached <= 0:
        return best
    # Hold the reduction (less a hair for floating point) and price it.
    cheap = solve(inst, f.Spec(mode=f.MAX_REDUCTION, min_reduction_kw=reached * (1 - 1e-9)), solver)
    return cheap if cheap.waves is not None else best
