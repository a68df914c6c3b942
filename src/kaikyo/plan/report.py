"""Turn a wave assignment into the reported figures: waves, moves and savings."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from kaikyo.plan.calendar import WaveSlot, seed_schedule
from kaikyo.plan.groups import Group
from kaikyo.plan.model import Server, Site
from kaikyo.plan.result import GroupOwner, Move, Project, Savings, WaveReport


def group_owners(servers: Sequence[Server]) -> dict[str, GroupOwner]:
    """Each group's owner and sign-off from its servers' rows (several, joined with "; ")."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for s in servers:
        owners, signers = found.setdefault(s.group, ([], []))
        if s.owner and s.owner not in owners:
            owners.append(s.owner)
        if s.sign_off and s.sign_off not in signers:
            signers.append(s.sign_off)
    return {g: GroupOwner(g, "; ".join(o), "; ".join(so)) for g, (o, so) in found.items()}


def moves_for(groups: Sequence[Group], waves: Sequence[int | None]) -> tuple[Move, ...]:
    return tuple(
        Move(server, g.name, w)
        for g, w in zip(groups, waves, strict=True)
        if w is not None
        for server in g.servers
    )


def wave_reports(
    groups: Sequence[Group],
    waves: Sequence[int | None],
    slots: Sequence[WaveSlot],
    site: Site,
    start: dt.date,
    owners: Mapping[str, GroupOwner] | None = None,
) -> tuple[WaveReport, ...]:
    """One report per calendar wave, including empty ones (the Gantt shows them as idle);
    ``owners``: who answers for each group (:func:`group_owners`)."""
    owners = owners or {}
    members: list[list[Group]] = [[] for _ in slots]
    for g, w in zip(groups, waves, strict=True):
        if w is not None:
            members[w - 1].append(g)
    loads = [sum(g.send_gb for g in m) for m in members]
    spans = seed_schedule(site, start, loads)
    reports, cumulative_kw = [], 0.0
    for slot, group_list, load, (seed_start, seed_end) in zip(
        slots, members, loads, spans, strict=True
    ):
        kw = sum(g.kw_peak for g in group_list)
        cumulative_kw += kw
        delta_h = sum(g.final_delta_gb for g in group_list) / site.peak_rate_gb_per_hour
        reports.append(
            WaveReport(
                index=slot.index,
                start=slot.start,
                end=slot.end,
                cutover=slot.cutover_start,
                cutover_end=slot.cutover_end,
                go_no_go=slot.cutover_start - dt.timedelta(hours=site.go_no_go_hours),
                rollback_by=max(
                    slot.cutover_start,
                    slot.cutover_end - dt.timedelta(hours=site.rollback_hours),
                ),
                owners=tuple(owners.get(g.name, GroupOwner(g.name, "", "")) for g in group_list),
                groups=tuple(g.name for g in group_list),
                servers=sum(g.n_servers for g in group_list),
                storage_gb=sum(g.storage_gb for g in group_list),
                send_gb=load,
                seed_start=seed_start if load else None,
                seed_end=seed_end if load else None,
                seed_hours=load / site.peak_rate_gb_per_hour if load else 0.0,
                final_delta_hours=delta_h,
                # Final deltas of one wave run one after another over the shared link.
                downtime_hours=site.cutover_hours + delta_h if group_list else 0.0,
                kw_removed=kw,
                cumulative_kw=cumulative_kw,
                link_capacity_gb=slot.capacity_gb,
                cumulative_capacity_gb=slot.cumulative_gb,
            )
        )
    return tuple(reports)


def savings(
    groups: Sequence[Group], waves: Sequence[int | None], site: Site, deadline: dt.date
) -> Savings:
    """kWh, cost and CO2 shifted from the primary to the haven over the restriction period."""
    moved = [g for g, w in zip(groups, waves, strict=True) if w is not None]
    period_end = max(site.restriction_end, deadline)
    hours = (period_end - deadline).days * 24.0
    kw_primary = sum(g.kw_avg_primary for g in moved)
    kw_haven = sum(g.kw_avg_haven for g in moved)
    kwh_primary, kwh_haven = kw_primary * hours, kw_haven * hours
    return Savings(
        period_start=deadline,
        period_end=period_end,
        kw_removed_primary=sum(g.kw_peak for g in moved),
        kw_added_haven=kw_haven,
        kwh_saved_primary=kwh_primary,
        kwh_added_haven=kwh_haven,
        cost_saved=kwh_primary * site.price_per_kwh,
        cost_added=kwh_haven * site.price_haven_per_kwh,
        co2_saved_kg=kwh_primary * site.co2_kg_per_kwh,
        co2_added_kg=kwh_haven * site.co2_haven_kg_per_kwh,
        currency=site.currency,
    )


def server_net(server: Server, site: Site, period: Savings) -> tuple[float, float, float]:
    """One moved server's share of the net: (kWh, cost, kg CO2) over the restriction period,
    the haven's draw less the primary's (negative: less), as :func:`savings` counts them."""
    hours = (period.period_end - period.period_start).days * 24.0
    primary = server.watts_avg * site.pue_primary / 1000.0 * hours
    haven = server.watts_avg * site.pue_haven / 1000.0 * hours
    return (
        haven - primary,
        haven * site.price_haven_per_kwh - primary * site.price_per_kwh,
        haven * site.co2_haven_kg_per_kwh - primary * site.co2_kg_per_kwh,
    )


HOURS_PER_MONTH = 730.0  # 8760 / 12


def project(site: Site, servers_moved: int, savings: Savings) -> Project | None:
    """The project's cost against the power it saves, when the site prices the project.

    The energy saving runs at the restriction period's net rate for as long as the servers
    stay at the haven; the payback is the one-off work over the monthly net of saving less
    running cost, or None when the month's net is no gain (it never pays back).
    """
    costs = site.costs
    if not costs.given:
        return None
    hours = max((savings.period_end - savings.period_start).days * 24.0, 1.0)
    energy = -savings.net_cost / hours * HOURS_PER_MONTH
    racks = math.ceil(servers_moved / costs.servers_per_rack) if servers_moved else 0
    running = (
        (costs.line_per_month or 0.0)
        + (costs.haven_per_kw_month or 0.0) * savings.kw_added_haven
        + (costs.haven_per_rack_month or 0.0) * racks
    )
    one_off = (costs.labour_per_server or 0.0) * servers_moved
    monthly = energy - running
    return Project(
        one_off=one_off,
        running_per_month=running,
        energy_saving_per_month=energy,
        net_per_month=monthly,
        racks=racks,
        payback_months=(one_off / monthly) if monthly > 0 else None,
        currency=site.currency,
    )
