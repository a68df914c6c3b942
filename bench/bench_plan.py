#!/usr/bin/env python3
"""Planner benchmark: 10,000 servers in 1,000 dependency groups must plan in <= 10 s.

Generates a deterministic synthetic fleet (15 % of groups must-stay, 10 % latency-bound),
then times ``make_plan`` for each objective, a tight cut-over limit and an infeasible target
(which adds the best-reachable solve and the blocker relaxations). Every plan is re-checked
by ``verify_plan``. Prints one table row per case.

    .venv/bin/python bench/bench_plan.py [--servers 10000] [--groups 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from rich.console import Console
from rich.table import Table

from kaikyo.plan import Objective, PlanRequest, Server, Target, make_plan, parse_site, verify_plan


def fleet(n_servers: int, n_groups: int, seed: int = 2011) -> list[Server]:
    rnd = random.Random(seed)
    sizes = [1] * n_groups
    for _ in range(n_servers - n_groups):
        sizes[rnd.randrange(n_groups)] += 1
    servers = []
    for g, size in enumerate(sizes):
        residency = "must-stay" if rnd.random() < 0.15 else "may-leave"
        rtt = 10.0 if rnd.random() < 0.10 else None
        tier = rnd.randint(1, 3)
        for i in range(size):
            peak = rnd.uniform(250, 500)
            servers.append(
                Server(
                    id=f"srv-{g:04d}-{i:02d}",
                    group=f"grp-{g:04d}",
                    site="",
                    watts_avg=peak * 0.6,
                    watts_peak=peak,
                    storage_gb=rnd.uniform(50, 3000),
                    change_gb_per_day=rnd.uniform(1, 30),
                    tier=tier,
                    max_rtt_ms=rtt,
                    residency=residency,
                )
            )
    return servers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=1_000)
    args = ap.parse_args()
    servers = fleet(args.servers, args.groups)
    it_kw = sum(s.watts_peak for s in servers) * 2.0 / 1000
    site = parse_site(
        {
            "baseline_peak_kw": round(it_kw * 2.5),
            "link_mbps": 12_000,  # the last cut-over is the last Saturday before the deadline
            "link_limits": [{"hours": "09:00-20:00", "mbps": 3_000}],
            # The calendar on: Saturday-night windows, Japan's holidays, a blackout date.
            "cutover_windows": ["Sat 20:00-Sun 10:00"],
            "holidays": "JP",
            "blackout": ["2011-05-06"],  # a Friday: the weekend after Golden Week stays
        },
        it_kw,
    )
    start, deadline = dt.date(2011, 5, 1), dt.date(2011, 7, 1)
    cases = [
        ("15%, bytes", Target(pct=15), Objective.BYTES, None),
        ("15%, downtime", Target(pct=15), Objective.DOWNTIME, None),
        ("15%, weighted", Target(pct=15), Objective.WEIGHTED, None),
        ("15%, bytes, 500 cut-overs/wave", Target(pct=15), Objective.BYTES, 500),
        ("25%, weighted, 900/wave", Target(pct=25), Objective.WEIGHTED, 900),
        ("35% (infeasible), bytes", Target(pct=35), Objective.BYTES, 500),
    ]
    table = Table(
        title=f"kaikyo plan: {len(servers):,} servers, {args.groups:,} groups, "
        f"{(deadline - start).days} days, 7-day waves"
    )
    for col in (
        "case",
        "seconds",
        "feasible",
        "status",
        "method",
        "gap",
        "kW target",
        "kW removed",
        "servers moved",
        "TB sent",
        "violations",
    ):
        table.add_column(col, justify="left" if col in ("case", "status", "method") else "right")
    for name, target, objective, per_wave in cases:
        request = PlanRequest(
            target=target,
            start=start,
            deadline=deadline,
            objective=objective,
            servers_per_wave=per_wave,
        )
        t0 = time.perf_counter()
        plan = make_plan(servers, site, request)
        seconds = time.perf_counter() - t0
        problems = verify_plan(plan, servers, site, request)
        table.add_row(
            name,
            f"{seconds:.2f}",
            str(plan.feasible),
            plan.status,
            plan.method,
            f"{plan.mip_gap:.1e}",
            f"{plan.target_kw:,.0f}",
            f"{plan.reduction_kw:,.0f}",
            f"{len(plan.moves):,}",
            f"{plan.send_gb / 1000:,.0f}",
            str(len(problems)),
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
