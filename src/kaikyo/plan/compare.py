"""Scenarios side by side: targets, link speeds and dedup ratios, and what each percent costs.

A board asks "and 20%? with a second gigabit?" before it signs: each scenario is a whole
plan (the same solver, the same checks), and within a link and a dedup ratio the targets in
order give the cost of each extra percent of reduction: more bytes over the link, more
servers moved, a different net.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from kaikyo.plan.check import verify_plan
from kaikyo.plan.model import PlanRequest, Server, Site, Target
from kaikyo.plan.planner import make_plan
from kaikyo.plan.result import Plan


@dataclass(frozen=True, slots=True)
class Scenario:
    """One plan of the grid and, from the scenario before it in its series (same link and
    dedup, a smaller target), the cost of each extra percent."""

    target: Target
    link_mbps: float
    dedup_ratio: float
    plan: Plan
    # Per extra percentage point of the baseline: TB sent, servers moved, net cost; None
    # for the first target of a series or when either plan cannot meet its target.
    extra_tb_per_pct: float | None
    extra_servers_per_pct: float | None
    extra_net_cost_per_pct: float | None

    @property
    def last_cutover(self) -> dt.datetime | None:
        used = [w.cutover for w in self.plan.waves if w.servers]
        return max(used) if used else None


def compare(
    servers: Sequence[Server],
    site: Site,
    request: PlanRequest,
    targets: Sequence[Target],
    links_mbps: Sequence[float],
    dedup_ratios: Sequence[float],
) -> list[Scenario]:
    """Every combination, series by series (link, then dedup), targets smallest first."""
    out: list[Scenario] = []
    order = sorted(targets, key=lambda t: t.resolve_kw(site.baseline_peak_kw))
    for mbps in links_mbps:
        for dedup in dedup_ratios:
            variant = dataclasses.replace(site, link_mbps=mbps, dedup_ratio=dedup)
            previous: Plan | None = None
            for target in order:
                asked = dataclasses.replace(request, target=target)
                plan = make_plan(servers, variant, asked)
                problems = verify_plan(plan, servers, variant, asked)
                if problems:  # a modelling bug, as in `kaikyo plan`
                    raise RuntimeError("plan failed its own check: " + "; ".join(problems[:5]))
                out.append(_scenario(target, mbps, dedup, plan, previous))
                previous = plan
    return out


def _scenario(
    target: Target, mbps: float, dedup: float, plan: Plan, previous: Plan | None
) -> Scenario:
    extra: list[float | None] = [None, None, None]
    if previous is not None and previous.feasible and plan.feasible:
        pct = 100.0 * (plan.target_kw - previous.target_kw) / plan.baseline_peak_kw
        if pct > 0:
            extra = [
                (plan.send_gb - previous.send_gb) / 1000.0 / pct,
                (len(plan.moves) - len(previous.moves)) / pct,
                (plan.savings.net_cost - previous.savings.net_cost) / pct,
            ]
    return Scenario(target, mbps, dedup, plan, *extra)
