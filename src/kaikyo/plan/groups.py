"""Dependency groups: the planner's decision unit.

A group moves whole or not at all, so the MILP decides per group, never per server. This is
also what keeps 10,000 servers tractable: the model's size follows the number of groups.
A group is blocked when any member must stay (residency), cannot bear the haven's round trip
(latency) or cannot be cut over within its allowed downtime.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kaikyo.plan.model import MUST_STAY, Server, Site

BLOCK_RESIDENCY = "must-stay"
BLOCK_LATENCY = "latency"
BLOCK_DOWNTIME = "downtime"


@dataclass(frozen=True, slots=True)
class Group:
    """Aggregated facts about one dependency group, in the planner's units."""

    name: str
    servers: tuple[str, ...]
    kw_peak: float  # taken off the primary's peak if moved: sum(watts_peak) x PUE_primary
    kw_avg_primary: float  # average draw at the primary's meter
    kw_avg_haven: float  # average draw added at the haven's meter
    storage_gb: float
    send_gb: float  # seed + repeated deltas + final delta, after dedup
    final_delta_gb: float
    downtime_h: float  # cut-over overhead + own final delta at full link rate
    tier: int  # most critical member (1 is most critical)
    blocked: tuple[str, ...]  # BLOCK_* reasons; empty when the group may move

    @property
    def n_servers(self) -> int:
        return len(self.servers)

    @property
    def movable(self) -> bool:
        return not self.blocked


def server_blocks(server: Server, site: Site) -> tuple[str, ...]:
    """Reasons this one server may not leave, independent of its group."""
    reasons = []
    if server.residency == MUST_STAY:
        reasons.append(BLOCK_RESIDENCY)
    if server.max_rtt_ms is not None and server.max_rtt_ms < site.rtt_ms:
        reasons.append(BLOCK_LATENCY)
    return tuple(reasons)


def build_groups(servers: Iterable[Server], site: Site, wave_days: int) -> tuple[Group, ...]:
    """Aggregate servers into groups, in first-appearance order (deterministic)."""
    members: dict[str, list[Server]] = {}
    for server in servers:
        members.setdefault(server.group, []).append(server)
    return tuple(_group(name, rows, site, wave_days) for name, rows in members.items())


def _group(name: str, rows: list[Server], site: Site, wave_days: int) -> Group:
    change = sum(s.change_gb_per_day for s in rows) * site.dedup_ratio
    final_delta = change * site.delta_interval_hours / 24.0
    seed = sum(s.storage_gb for s in rows) * site.dedup_ratio
    # Repeated deltas keep the copy current for one wave before the cut-over (docs/PLANNER.md).
    send = seed + change * wave_days + final_delta
    downtime = site.cutover_hours + final_delta / site.peak_rate_gb_per_hour
    blocked = {reason for s in rows for reason in server_blocks(s, site)}
    windows = [s.downtime_window_h for s in rows if s.downtime_window_h is not None]
    if windows and downtime > min(windows):
        blocked.add(BLOCK_DOWNTIME)
    return Group(
        name=name,
        servers=tuple(s.id for s in rows),
        kw_peak=sum(s.watts_peak for s in rows) * site.pue_primary / 1000.0,
        kw_avg_primary=sum(s.watts_avg for s in rows) * site.pue_primary / 1000.0,
        kw_avg_haven=sum(s.watts_avg for s in rows) * site.pue_haven / 1000.0,
        storage_gb=sum(s.storage_gb for s in rows),
        send_gb=send,
        final_delta_gb=final_delta,
        downtime_h=downtime,
        tier=min(s.tier for s in rows),
        blocked=tuple(sorted(blocked)),
    )
