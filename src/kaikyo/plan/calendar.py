"""Waves on the calendar and what the link can carry in each, hour by hour.

Time-of-day limits (business hours) make link capacity uneven, so capacity is integrated per
clock hour rather than taken as rate x duration. A wave ends with its cut-over, in one of the
site's weekly windows on a day that is no holiday or blackout date (:func:`cutover_times`);
seeding for a wave may start as soon as the link has finished the previous waves' seeds
(first in, first out), which is why the MILP constrains cumulative bytes against cumulative
capacity. Times are naive wall-clock times of the site's zone; output attaches the zone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from kaikyo.plan.model import Site

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class WaveSlot:
    """One wave: seeding in [start, end), then the cut-over in [cutover_start, cutover_end)
    (``end`` is ``cutover_start``). Times are wall-clock times of the site's time zone."""

    index: int  # 1-based
    start: dt.datetime
    end: dt.datetime
    capacity_gb: float  # link GB available inside [start, end)
    cumulative_gb: float  # link GB available from the plan's start to ``end``
    cutover_start: dt.datetime
    cutover_end: dt.datetime
    window_h: float | None  # the cut-over window's length; None: no window was declared
    delta_room_gb: float | None  # final-delta GB the window leaves room for; None: no limit


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def hourly_capacity(site: Site, start: dt.datetime, hours: int) -> list[float]:
    """GB the link can carry in each clock hour from ``start``."""
    return [site.rate_gb_per_hour(start + i * HOUR) for i in range(hours)]


def link_capacity(site: Site, begin: dt.datetime, end: dt.datetime) -> float:
    """GB the link can carry in [begin, end), a part of a clock hour pro rata."""
    total, t = 0.0, begin
    while t < end:
        boundary = t.replace(minute=0, second=0, microsecond=0) + HOUR
        step = min(boundary, end) - t
        total += site.rate_gb_per_hour(t) * (step / HOUR)
        t += step
    return total


def touched_days(begin: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """The calendar days [begin, end) touches (an end at 00:00 does not touch its day)."""
    last = (end - dt.timedelta(microseconds=1)).date() if end > begin else begin.date()
    return [begin.date() + dt.timedelta(days=i) for i in range((last - begin.date()).days + 1)]


def real_hours(site: Site, begin: dt.datetime, end: dt.datetime) -> float:
    """Hours that really pass between two wall-clock times of the site (a DST change makes
    a night an hour shorter or longer)."""
    zone = zoneinfo.ZoneInfo(site.timezone)
    utc = dt.UTC
    first = begin.replace(tzinfo=zone).astimezone(utc)
    return (end.replace(tzinfo=zone).astimezone(utc) - first) / HOUR


def window_occurrences(
    site: Site, begin: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every occurrence of the site's weekly cut-over windows inside [begin, end) that
    touches no holiday or blackout date, in time order."""
    monday = midnight((begin - dt.timedelta(days=begin.weekday())).date())
    found = []
    week = monday
    while week < end:
        for w in site.cutover_windows:
            s = week + dt.timedelta(minutes=w.start)
            e = s + dt.timedelta(minutes=w.minutes)
            if s < begin or e > end:
                continue
            if any(site.is_closed(day) for day in touched_days(s, e)):
                continue
            found.append((s, e))
        week += dt.timedelta(days=7)
    return sorted(found)


def cutover_times(
    site: Site, start: dt.date, deadline: dt.date, wave_days: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """(start, end) of each wave's cut-over, all before the deadline.

    With ``cutover_windows``: the open window occurrences, each at least ``wave_days``
    calendar days after the one before. Without: every ``wave_days`` days at 00:00 for the
    length of ``cutover_window_h`` (or the cut-over itself), a closed day pushing one to the
    next open day.
    """
    begin, end = midnight(start), midnight(deadline)
    chosen: list[tuple[dt.datetime, dt.datetime]] = []
    if site.cutover_windows:
        for s, e in window_occurrences(site, begin, end):
            if chosen and (
                s < chosen[-1][1] or s.date() < chosen[-1][0].date() + dt.timedelta(wave_days)
            ):
                continue
            chosen.append((s, e))
        return chosen
    length = dt.timedelta(hours=site.cutover_window_h or site.cutover_hours)
    nominal = begin
    while True:
        nominal += dt.timedelta(days=wave_days)
        s = nominal
        while s < end and any(site.is_closed(d) for d in touched_days(s, s + length)):
            s += dt.timedelta(days=1)
        if s + length > end:
            return chosen
        if not chosen or s >= chosen[-1][1]:
            chosen.append((s, s + length))


def wave_slots(
    site: Site, start: dt.date, deadline: dt.date, wave_days: int
) -> tuple[WaveSlot, ...]:
    """The waves of the calendar: one per cut-over (:func:`cutover_times`), each seeding from
    the end of the cut-over before (or the plan's start) until its own."""
    slots: list[WaveSlot] = []
    cumulative, t = 0.0, midnight(start)
    declared = bool(site.cutover_windows) or site.cutover_window_h is not None
    for cut_start, cut_end in cutover_times(site, start, deadline, wave_days):
        capacity = link_capacity(site, t, cut_start)
        cumulative += capacity
        window_h = real_hours(site, cut_start, cut_end) if declared else None
        room = (
            max(window_h - site.cutover_hours, 0.0) * site.peak_rate_gb_per_hour
            if window_h is not None
            else None
        )
        slots.append(
            WaveSlot(
                len(slots) + 1,
                t,
                cut_start,
                capacity,
                cumulative,
                cut_start,
                cut_end,
                window_h,
                room,
            )
        )
        t = cut_end
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
