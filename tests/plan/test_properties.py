"""Every plan satisfies every constraint (checked without the solver), and on small fleets
the planner's objective equals a brute-force optimum over all subsets and wave assignments."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_builders import request, server, site

from kaikyo.plan import Objective, Server, make_plan, verify_plan
from kaikyo.plan import formulation as f
from kaikyo.plan.calendar import wave_slots
from kaikyo.plan.groups import build_groups
from kaikyo.plan.planner import solve
from kaikyo.plan.solver import HighsSolver


@st.composite
def fleets(draw: st.DrawFn, max_servers: int = 12) -> list[Server]:
    n = draw(st.integers(1, max_servers))
    n_groups = draw(st.integers(1, n))
    out = []
    for i in range(n):
        out.append(
            server(
                f"s{i}",
                group=f"g{draw(st.integers(0, n_groups - 1))}",
                watts_peak=draw(st.floats(100, 900)),
                watts_avg=draw(st.floats(50, 100)),
                storage_gb=draw(st.floats(0, 40_000)),
                change_gb_per_day=draw(st.floats(0, 500)),
                tier=draw(st.integers(1, 3)),
                max_rtt_ms=draw(st.sampled_from([None, None, 10.0, 100.0])),
                residency=draw(st.sampled_from(["may-leave", "may-leave", "must-stay"])),
                downtime_window_h=draw(st.sampled_from([None, None, 2.5, 24.0])),
            )
        )
    return out


# The cut-over calendar: a length only (old site files), or weekly windows with Japan's
# holidays and a blackout (Golden Week 2011 and a day in May).
calendars = st.sampled_from(
    [
        {},
        {"cutover_window_h": 3.0},
        {"cutover_window_h": 30.0},
        {"cutover_windows": ["Sat 20:00-Sun 10:00"], "holidays": "JP"},
        {"cutover_windows": ["daily 01:00-05:00"], "blackout": ["2011-05-03/2011-05-08"]},
        {"cutover_windows": ["Wed 22:30-Thu 02:00", "Sun 00:00-24:00"], "holidays": "JP",
         "blackout": ["2011-05-15"]},
    ]
)  # fmt: skip

sites = st.builds(
    lambda mbps, limit, calendar, haven: site(
        baseline_peak_kw=20.0,
        link_mbps=mbps,
        haven_capacity_kw=haven,
        link_limits=[{"hours": "09:00-20:00", "mbps": limit}],
        **calendar,
    ),
    st.sampled_from([50.0, 200.0, 1000.0]),
    st.sampled_from([0.0, 20.0, 1000.0]),
    calendars,
    st.sampled_from([None, 2.0, 50.0]),
)

requests = st.builds(
    lambda pct, days, per_wave, objective: request(
        pct=pct, days=days, servers_per_wave=per_wave, objective=objective
    ),
    st.floats(1, 60),
    st.integers(3, 30),
    st.sampled_from([None, 2, 5]),
    st.sampled_from(list(Objective)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), sites, requests)
def test_every_plan_satisfies_every_constraint(servers, the_site, req):
    plan = make_plan(servers, the_site, req)
    assert verify_plan(plan, servers, the_site, req) == []
    assert plan.feasible == (plan.reduction_kw >= plan.target_kw * (1 - 1e-6))


def _brute_force(servers, the_site, req):
    """Cheapest cost over every wave assignment of every group (None = stays); returns
    (best cost meeting the target or None, best reachable reduction)."""
    groups = [g for g in build_groups(servers, the_site, req.wave_days) if g.movable]
    slots = wave_slots(the_site, req.start, req.deadline, req.wave_days)
    target = req.target.resolve_kw(the_site.baseline_peak_kw)
    best_cost, best_kw = None, 0.0
    for combo in itertools.product([None, *range(1, len(slots) + 1)], repeat=len(groups)):
        ok, cum = True, 0.0
        for w, slot in enumerate(slots, 1):
            members = [g for g, c in zip(groups, combo, strict=True) if c == w]
            cum += sum(g.send_gb for g in members)
            count = sum(g.n_servers for g in members)
            delta = sum(g.final_delta_gb for g in members)
            if (
                cum > slot.cumulative_gb * (1 + 1e-9)
                or (req.servers_per_wave is not None and count > req.servers_per_wave)
                or (slot.delta_room_gb is not None and delta > slot.delta_room_gb * (1 + 1e-9))
            ):
                ok = False
                break
        moved = [g for g, c in zip(groups, combo, strict=True) if c is not None]
        if ok and the_site.haven_capacity_kw is not None:
            ok = sum(g.kw_avg_haven for g in moved) <= the_site.haven_capacity_kw * (1 + 1e-9)
        if not ok:
            continue
        kw = sum(g.kw_peak for g in moved)
        best_kw = max(best_kw, kw)
        if kw >= target:
            cost = sum(f.group_cost(g, req) for g in moved)
            best_cost = cost if best_cost is None else min(best_cost, cost)
    return best_cost, best_kw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fleets(max_servers=6),
    sites,
    st.builds(
        lambda pct, per_wave, objective: request(
            pct=pct, days=14, wave_days=7, servers_per_wave=per_wave, objective=objective
        ),
        st.floats(1, 80),
        st.sampled_from([None, 1, 3]),
        st.sampled_from(list(Objective)),
    ),
)
def test_brute_force_confirms_optimality(servers, the_site, req):
    groups = build_groups(servers, the_site, req.wave_days)
    if sum(g.movable for g in groups) > 6:
        return
    best_cost, best_kw = _brute_force(servers, the_site, req)
    plan = make_plan(servers, the_site, req)
    assert plan.feasible == (best_cost is not None)
    if best_cost is not None:
        assert plan.objective_value <= best_cost * (1 + 1e-4) + 1e-6
    else:
        assert abs(plan.reduction_kw - best_kw) <= 1e-6 * max(1.0, best_kw)


def test_full_milp_agrees_with_selection_and_packing():
    servers = [
        server(
            f"s{i}", group=f"g{i % 7}", storage_gb=1000.0 * (i % 5 + 1), watts_peak=200.0 + 37 * i
        )
        for i in range(21)
    ]
    the_site = site(baseline_peak_kw=40.0, link_mbps=150.0)
    req = request(pct=20, days=22, servers_per_wave=4)  # three waves, the last on day 21
    groups = tuple(g for g in build_groups(servers, the_site, req.wave_days) if g.movable)
    slots = wave_slots(the_site, req.start, req.deadline, req.wave_days)
    inst = f.Instance(groups, slots, the_site, req, req.target.resolve_kw(40.0))
    quick = solve(inst, f.Spec(), HighsSolver())
    full = HighsSolver().solve(f.build(inst, f.Spec()))
    assert quick.waves is not None and full.x is not None
    assert abs(quick.objective - full.objective) <= 1e-4 * abs(full.objective) + 1e-6
