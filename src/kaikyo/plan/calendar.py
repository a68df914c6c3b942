"""Waves on the calendar and what the link can carry in each, hour by hour.

Time-of-day limits (business hours) make link capacity uneven, so capacity is integrated per
clock hour rather than taken as rate x duration. Waves are cut over at their end; seeding for
a wave may start as soon as the link has finished the previous waves' seeds (first in, first
out), which is why the MILP constrains cumulative bytes against cumulative capacity.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kaikyo.plan.model import Site

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class WaveSlot:
    """One wave: seeding window [start, end) with the cut-over at ``end``."""

    index: int  # 1-based
    start: dt.datetime
    end: dt.datetime
    capacity_gb: float  # link GB available inside [start, end)
    cumulative_gb: float  # link GB available from the plan's start to ``end``


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def hourly_capacity(site: Site, start: dt.datetime, hours: int) -> list[float]:
    """GB the link can carry in each clock hour from ``start``."""
    return [site.rate_gb_per_hour(start + i * HOUR) for i in range(hours)]


def wave_slots(
    site: Site, start: dt.date, deadline: dt.date, wave_days: int
) -> tuple[WaveSlot, ...]:
    """Consecutive waves of ``wave_days`` from ``start``; the last one ends at the deadline."""
    begin, end = midnight(start), midnight(deadline)
    hours = int((end - begin) / HOUR)
    per_hour = hourly_capacity(site, begin, hours)
    slots: list[WaveSlot] = []
    cumulative, t = 0.0, begin
    while t < end:
        stop = min(t + dt.timedelta(days=wave_days), end)
        first, last = int((t - begin) / HOUR), int((stop - begin) / HOUR)
        capacity = sum(per_hour[first:last])
        cumulative += capacity
        slots.append(WaveSlot(len(slots) + 1, t, stop, capacity, cumulative))
        t = stop
    return tuple(slots)


def seed_schedule(
    site: Site, start: dt.date, loads_gb: list[float]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """(begin, finish) of each wave's seeding when the link serves waves first in, first out."""
    t = midnight(start)
    spans = []
    for load in loads_gb:
        begin, remaining = t, load
        while remaining > 1e-9:
            rate = site.rate_gb_per_hour(t)
            if rate <= 0:
                t += HOUR
                continue
            # Never step past the next clock hour: the rate may change there.
            to_boundary = 1.0 - (t.minute * 60 + t.second + t.microsecond / 1e6) / 3600.0
            step = min(to_boundary, remaining / rate)
            remaining -= rate * step
            t += step * HOUR
        spans.append((begin, t))
    return spans
