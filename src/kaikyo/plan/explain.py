"""Explanations in words: which limits bind a plan, and what blocks an infeasible target.

"Binding" for a feasible plan is judged on the schedule (no further group fits under that
limit). Blockers of an infeasible target are established by relaxation: a limit blocks if
stretching it alone lets the target be met in the selection relaxation, and the stretch needed
there is a lower bound we report as such ("the link would need at least 2.3 Gbit/s").
"""

from __future__ import annotations

from collections.abc import Sequence

from kaikyo.plan import formulation as f
from kaikyo.plan.groups import BLOCK_DOWNTIME, BLOCK_LATENCY, BLOCK_RESIDENCY, Group
from kaikyo.plan.model import PlanRequest, Site
from kaikyo.plan.result import WaveReport
from kaikyo.plan.solver import Solver

_BLOCK_WORDS = {
    BLOCK_RESIDENCY: "is must-stay (residency)",
    BLOCK_LATENCY: "is latency-bound (max_rtt_ms below the haven's {rtt:g} ms)",
    BLOCK_DOWNTIME: "cannot be cut over within its allowed downtime window",
}


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "0%"


def load_notes(groups: Sequence[Group], site: Site) -> list[str]:
    """Shares of the IT peak load that may not move, by reason (a group may have several)."""
    total = sum(g.kw_peak for g in groups)
    notes = []
    for reason, words in _BLOCK_WORDS.items():
        blocked = [g for g in groups if reason in g.blocked]
        if blocked:
            kw = sum(g.kw_peak for g in blocked)
            n = sum(g.n_servers for g in blocked)
            notes.append(
                f"{_pct(kw, total)} of the load ({kw:.1f} kW, {n} servers) "
                + words.format(rtt=site.rtt_ms)
            )
    return notes


def binding(
    inst: f.Instance, waves: Sequence[int | None], reports: Sequence[WaveReport], feasible: bool
) -> list[str]:
    """Limits that stop a further group from moving in some wave (or from moving at all).

    ``inst.groups`` and ``waves`` line up: the movable groups and the wave each goes in.
    """
    groups, site, request, target_kw = inst.groups, inst.site, inst.request, inst.target_kw
    out: list[str] = []
    reduction = sum(r.kw_removed for r in reports)
    if feasible:
        what = f"target with its {request.margin_pct:g}% margin" if request.margin_pct else "target"
        out.append(f"{what}: {target_kw:.1f} kW needed, the plan removes {reduction:.1f} kW")
    staying = [g for g, w in zip(groups, waves, strict=True) if w is None]
    if not staying:
        if not feasible:
            out.append("every movable group is in the plan: the rest is blocked (see blockers)")
        return out
    smallest_send = min(g.send_gb for g in staying)
    smallest_count = min(g.n_servers for g in staying)
    cum_send = 0.0
    full_link = []
    for r in reports:
        cum_send += r.send_gb
        if r.cumulative_capacity_gb - cum_send < smallest_send:
            full_link.append(r.index)
    if full_link:
        out.append(
            "link capacity: by the cut-over of wave(s) "
            f"{', '.join(map(str, full_link))} the link has no room for another group "
            f"({site.link_mbps:g} Mbit/s x {site.link_usable:g} usable)"
        )
    if request.servers_per_wave is not None:
        full = [r.index for r in reports if request.servers_per_wave - r.servers < smallest_count]
        if full:
            out.append(
                f"cut-overs per wave: wave(s) {', '.join(map(str, full))} are at the limit "
                f"of {request.servers_per_wave} servers"
            )
    if site.haven_capacity_kw is not None:
        used = sum(g.kw_avg_haven for g, w in zip(groups, waves, strict=True) if w is not None)
        if site.haven_capacity_kw - used < min(g.kw_avg_haven for g in staying):
            out.append(f"haven capacity: {used:.1f} of {site.haven_capacity_kw:g} kW in use")
    return out


def blockers(groups: Sequence[Group], inst: f.Instance, solver: Solver) -> list[str]:
    """Why the target cannot be met, most fundamental first.

    ``groups`` is the whole fleet (for the shares that may not move); ``inst`` the movable part.
    """
    site, request, target_kw = inst.site, inst.request, inst.target_kw
    movable, slots = inst.groups, inst.slots
    ceiling = sum(g.kw_peak for g in movable)
    total = sum(g.kw_peak for g in groups)
    out = []
    if total < target_kw:
        share = _pct(total, site.baseline_peak_kw)
        out.append(
            f"the whole IT load is {total:.1f} kW at the meter ({share} "
            f"of the {site.baseline_peak_kw:g} kW baseline); moving IT alone cannot remove "
            f"{target_kw:.1f} kW"
        )
    if ceiling < target_kw:
        out.append(
            f"even moving every movable server removes only {ceiling:.1f} kW of the "
            f"{target_kw:.1f} kW target"
        )
        out.extend(load_notes(groups, site))
        return out
    if not slots:
        return ["the deadline leaves no time for a wave"]
    families = [f.LINK]
    if request.servers_per_wave is not None:
        families.append(f.CUTOVERS)
    windows = [s.window_h for s in slots if s.window_h is not None]
    if windows:
        families.append(f.WINDOW)
    for family in families:
        spec = f.Spec(mode=f.MIN_COST, stretch=family)
        sol = solver.solve(f.build_selection(inst, spec))
        if sol.x is None:
            continue
        out.append(_stretch_words(family, float(sol.x[-1]), site, request, min(windows or [0.0])))
    if site.haven_capacity_kw is not None:
        spec = f.Spec(mode=f.MIN_COST, drop=frozenset({f.HAVEN}))
        sol = solver.solve(f.build_selection(inst, spec))
        if sol.x is not None:
            need = sum(g.kw_avg_haven for g, x in zip(movable, sol.x, strict=False) if x > 0.5)
            out.append(
                f"the haven would need at least {need:.1f} kW (has {site.haven_capacity_kw:g} kW)"
            )
    if not out:
        out.append(
            "no single limit blocks alone: link, cut-over and window limits together do; "
            "try a later deadline"
        )
    return out


def _stretch_words(
    family: str, factor: float, site: Site, request: PlanRequest, window: float
) -> str:
    """``window``: the shortest cut-over window of the calendar, in hours."""
    if family == f.LINK:
        gbit = site.link_mbps * factor / 1000.0
        return (
            f"the link would need at least {gbit:.2f} Gbit/s (x{factor:.2f} of the "
            f"{site.link_mbps / 1000.0:g} Gbit/s link at {site.link_usable:g} usable) "
            "to move enough by the deadline"
        )
    if family == f.CUTOVERS:
        assert request.servers_per_wave is not None
        need = factor * request.servers_per_wave
        return (
            f"the waves would need at least {need:.0f} cut-overs each "
            f"(allowed {request.servers_per_wave})"
        )
    need_h = site.cutover_hours + factor * max(window - site.cutover_hours, 0.0)
    return f"the cut-over window would need at least {need_h:.1f} h (has {window:g} h)"
