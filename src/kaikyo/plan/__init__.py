"""The evacuation planner: which servers move to the haven, in which waves, to cut peak power.

A pure model: no files, network, environment or clock (the CLI reads inputs and passes text
in). Vocabulary:

- **server**: one fleet row (:class:`Server`); **group**: a dependency group, moved whole or not
  at all, and the decision unit of the MILP (:class:`Group`);
- **wave**: a calendar slot of ``wave_days``; its groups are seeded over the link (first in,
  first out) and cut over at its end;
- **reduction**: kW taken off the primary's peak = sum of moved ``watts_peak`` x PUE_primary;
- **target**: the reduction asked for (a share of ``baseline_peak_kw`` or kW).

:func:`make_plan` returns a :class:`Plan`; :func:`verify_plan` re-checks any plan against every
constraint without the solver.
"""

from kaikyo.plan.check import verify_plan
from kaikyo.plan.fleet import format_for, parse_fleet
from kaikyo.plan.model import Objective, PlanRequest, Server, Site, Target, Weights
from kaikyo.plan.planner import make_plan
from kaikyo.plan.result import Move, Plan, WaveReport, plan_json
from kaikyo.plan.site import load_site, parse_site
from kaikyo.plan.solver import HighsSolver, MilpProblem, MilpSolution, Solver

__all__ = [
    "HighsSolver",
    "MilpProblem",
    "MilpSolution",
    "Move",
    "Objective",
    "Plan",
    "PlanRequest",
    "Server",
    "Site",
    "Solver",
    "Target",
    "WaveReport",
    "Weights",
    "format_for",
    "load_site",
    "make_plan",
    "parse_fleet",
    "parse_site",
    "plan_json",
    "verify_plan",
]
