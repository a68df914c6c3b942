"""Frozen inputs of the planner: servers, the site and its link, and the request.

Units are fixed so nothing needs converting twice: watts (W) per server, kW at the meter,
decimal GB for storage and bytes on the wire, Mbit/s for links, hours for durations.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from enum import StrEnum

MAY_LEAVE = "may-leave"
MUST_STAY = "must-stay"
RESIDENCIES = (MAY_LEAVE, MUST_STAY)
# power_source values that are a meter's figure over time: a BMC's own average
# (``measured``) or kaikyo's repeated readings (``sampled``); not ``spot`` (one reading),
# ``rated``, ``file`` or ``default``.
MEASURED_SOURCES = ("measured", "sampled")


class Objective(StrEnum):
    """What a feasible plan minimises once the target is met."""

    BYTES = "bytes"
    DOWNTIME = "downtime"
    WEIGHTED = "weighted"


@dataclass(frozen=True, slots=True)
class Server:
    """One fleet row. ``max_rtt_ms``/``downtime_window_h`` of None mean "no limit"."""

    id: str
    group: str
    site: str
    watts_avg: float
    watts_peak: float
    storage_gb: float
    change_gb_per_day: float
    tier: int
    max_rtt_ms: float | None
    residency: str
    downtime_window_h: float | None = None
    role: str = ""
    power_source: str = "rated"
    owner: str = ""  # who answers for the server's group
    sign_off: str = ""  # who signs off its cut-over


@dataclass(frozen=True, slots=True)
class LinkLimit:
    """A time-of-day cap on the link: hours [start_hour, end_hour) run at ``mbps`` at most."""

    start_hour: int
    end_hour: int
    mbps: float
    weekdays_only: bool = True

    def applies(self, when: dt.datetime) -> bool:
        if self.weekdays_only and when.weekday() >= 5:
            return False
        return self.start_hour <= when.hour < self.end_hour


@dataclass(frozen=True, slots=True)
class CutoverWindow:
    """A weekly window in which servers may be cut over, in the site's time zone: from
    ``start`` minutes after Monday 00:00 for ``minutes`` (it may run into the next week).
    Written ``"Sat 20:00-Sun 10:00"``; ``"daily 01:00-05:00"`` is seven of them."""

    start: int  # minutes after Monday 00:00, 0 <= start < 7 * 24 * 60
    minutes: int  # the window's length, 0 < minutes <= 7 * 24 * 60

    @property
    def hours(self) -> float:
        return self.minutes / 60.0


@dataclass(frozen=True, slots=True)
class ProjectCosts:
    """What the evacuation costs besides power, in the site's currency; None: not given."""

    line_per_month: float | None = None
    haven_per_kw_month: float | None = None  # by kW the haven's meter adds
    haven_per_rack_month: float | None = None  # or by rack
    servers_per_rack: float = 20.0
    labour_per_server: float | None = None  # one-off, per server moved

    @property
    def given(self) -> bool:
        return any(
            v is not None
            for v in (
                self.line_per_month,
                self.haven_per_kw_month,
                self.haven_per_rack_month,
                self.labour_per_server,
            )
        )


@dataclass(frozen=True, slots=True)
class Site:
    """The primary site, the haven and the link between them (see docs/PLANNER.md)."""

    name: str
    baseline_peak_kw: float
    pue_primary: float
    pue_haven: float
    rtt_ms: float
    link_mbps: float
    link_usable: float
    dedup_ratio: float
    price_per_kwh: float
    price_haven_per_kwh: float
    co2_kg_per_kwh: float
    co2_haven_kg_per_kwh: float
    currency: str
    link_limits: tuple[LinkLimit, ...]
    restriction_end: dt.date
    restricted_hours: tuple[int, int]
    metering_minutes: int
    cutover_hours: float
    delta_interval_hours: float
    cutover_window_h: float | None
    haven_capacity_kw: float | None
    # The cut-over calendar (kaikyo.plan.calendar): weekly windows in ``timezone``, and the
    # days no window may touch (public holidays of ``holiday_country`` and listed dates, and
    # blackout dates). Times inside the planner are naive wall-clock times of ``timezone``.
    costs: ProjectCosts = ProjectCosts()
    go_no_go_hours: float = 24.0
    rollback_hours: float = 2.0
    cutover_windows: tuple[CutoverWindow, ...] = ()
    timezone: str = "Asia/Tokyo"
    holiday_country: str | None = None
    closed_dates: frozenset[dt.date] = frozenset()

    def is_closed(self, day: dt.date) -> bool:
        """A public holiday or a blackout date: no cut-over window may touch it."""
        if day in self.closed_dates:
            return True
        return self.holiday_country is not None and day in _holidays(self.holiday_country, day.year)

    def rate_gb_per_hour(self, when: dt.datetime) -> float:
        """Usable link throughput at ``when`` in GB/h, honouring time-of-day limits."""
        mbps = self.link_mbps
        for limit in self.link_limits:
            if limit.applies(when):
                mbps = min(mbps, limit.mbps)
        return mbps * self.link_usable * 0.45  # 1 Mbit/s = 0.45 GB/h

    @property
    def peak_rate_gb_per_hour(self) -> float:
        return self.link_mbps * self.link_usable * 0.45


@functools.cache
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    """The public holidays of ``country`` (an ISO 3166 code) in ``year``, from the
    ``holidays`` project (kept up to date by its maintainers, substitute days included)."""
    import holidays

    return frozenset(holidays.country_holidays(country, years=year))


@dataclass(frozen=True, slots=True)
class Target:
    """The reduction asked for: a share of the baseline peak, or an absolute kW figure."""

    pct: float | None = None
    kw: float | None = None

    def resolve_kw(self, baseline_peak_kw: float) -> float:
        if self.kw is not None:
            return self.kw
        return baseline_peak_kw * (self.pct or 0.0) / 100.0

    def __str__(self) -> str:
        return f"{self.kw:g} kW" if self.kw is not None else f"{self.pct:g}%"


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the ``weighted`` objective: cost units per TB sent and per server-hour down."""

    per_tb: float = 1.0
    per_downtime_hour: float = 1.0


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What the planner is asked: the target, the calendar and the operating limits."""

    target: Target
    start: dt.date
    deadline: dt.date
    objective: Objective = Objective.BYTES
    wave_days: int = 7
    servers_per_wave: int | None = None
    weights: Weights = Weights()
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4
    # Plan for the target plus this share of it, so the plan still holds when the fleet
    # draws a little more than its figures say.
    margin_pct: float = 0.0
    # How far a server's rated (not measured) watts may be from what it draws, either way:
    # the reduction is reported as the range this gives.
    rated_spread_pct: float = 20.0

    def planned_kw(self, baseline_peak_kw: float) -> float:
        """The reduction the plan must reach: the target with its margin."""
        return self.target.resolve_kw(baseline_peak_kw) * (1 + self.margin_pct / 100.0)
