"""The cut-over calendar: weekly windows in the site's zone, holidays and blackout dates.

The property tests draw windows, closed dates, starts, deadlines and wave lengths, and check
what a board is promised: every cut-over lies inside a declared window, touches no holiday
or blackout date, is over before the deadline, and waves keep their distance.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_builders import request, server, site

from kaikyo.errors import ConfigError
from kaikyo.plan import make_plan, verify_plan
from kaikyo.plan.calendar import touched_days, wave_slots, window_occurrences

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@st.composite
def windows(draw: st.DrawFn) -> str:
    """A window as people write one: a day and a time to (a day and) a time."""
    day = draw(st.sampled_from([*DAYS, "daily", "weekdays"]))
    start = draw(st.integers(0, 23 * 60 + 59))
    length = draw(st.integers(30, 40 * 60 if day not in ("daily", "weekdays") else 23 * 60))
    end = start + length
    clock = f"{start // 60:02d}:{start % 60:02d}"
    end_clock = f"{end % 1440 // 60:02d}:{end % 60:02d}"
    if day in ("daily", "weekdays") or end < 1440:
        return f"{day} {clock}-{end_clock}"
    end_day = DAYS[(DAYS.index(day) + end // 1440) % 7]
    return f"{day} {clock}-{end_day} {end_clock}"


@st.composite
def calendars(draw: st.DrawFn) -> dict[str, object]:
    first = dt.date(2011, 4, 1)
    closed = draw(st.lists(st.integers(0, 120), max_size=12))
    data: dict[str, object] = {
        "cutover_windows": draw(st.lists(windows(), min_size=1, max_size=3)),
        "blackout": [(first + dt.timedelta(days=d)).isoformat() for d in closed],
    }
    if draw(st.booleans()):
        data["holidays"] = draw(st.sampled_from(["JP", "KR"]))
    return data


@settings(max_examples=300, deadline=None)
@given(
    calendars(),
    st.integers(0, 60),
    st.integers(1, 90),
    st.integers(1, 14),
)
def test_every_cut_over_is_in_a_window_on_an_open_day_before_the_deadline(
    calendar: dict[str, object], offset: int, days: int, wave_days: int
) -> None:
    the_site = site(**calendar)
    start = dt.date(2011, 4, 1) + dt.timedelta(days=offset)
    deadline = start + dt.timedelta(days=days)
    slots = wave_slots(the_site, start, deadline, wave_days)
    begin, end = dt.datetime.combine(start, dt.time()), dt.datetime.combine(deadline, dt.time())
    open_windows = window_occurrences(the_site, begin, end)
    previous = None
    for slot in slots:
        assert (slot.cutover_start, slot.cutover_end) in open_windows
        assert begin <= slot.cutover_start < slot.cutover_end <= end
        for day in touched_days(slot.cutover_start, slot.cutover_end):
            assert not the_site.is_closed(day), (slot, day)
        monday = dt.datetime.combine(
            slot.cutover_start.date() - dt.timedelta(days=slot.cutover_start.weekday()), dt.time()
        )
        minute = (slot.cutover_start - monday) / dt.timedelta(minutes=1)
        length = (slot.cutover_end - slot.cutover_start) / dt.timedelta(minutes=1)
        assert any(w.start == minute and w.minutes == length for w in the_site.cutover_windows)
        if previous is not None:
            assert slot.start == previous.cutover_end  # seeding resumes after the cut-over
            assert slot.cutover_start >= previous.cutover_end
            assert slot.cutover_start.date() >= previous.cutover_start.date() + dt.timedelta(
                days=wave_days
            )
        previous = slot
    # None left out that could have been taken: the first open window is the first wave.
    if open_windows:
        assert slots and (slots[0].cutover_start, slots[0].cutover_end) == open_windows[0]


def test_a_plan_from_a_thursday_cuts_over_on_saturday_nights_in_jst() -> None:
    """The case the issue names: a Thursday start put every cut-over on a Thursday at 00:00
    and one on the deadline day."""
    the_site = site(cutover_windows=["Sat 20:00-Sun 10:00"], holidays="JP")
    slots = wave_slots(the_site, dt.date(2011, 5, 26), dt.date(2011, 7, 1), 7)
    assert [s.cutover_start for s in slots] == [
        dt.datetime(2011, 5, 28, 20, 0) + dt.timedelta(weeks=k) for k in range(5)
    ]
    assert all(s.cutover_end - s.cutover_start == dt.timedelta(hours=14) for s in slots)
    assert all(s.window_h == 14 for s in slots)


def test_golden_week_and_holidays_move_the_cut_over_to_the_next_open_window() -> None:
    # 2011-05-03..05 are holidays; a daily window skips them, and the blackout too.
    the_site = site(
        cutover_windows=["daily 01:00-05:00"], holidays="JP", blackout=["2011-05-06/2011-05-07"]
    )
    slots = wave_slots(the_site, dt.date(2011, 5, 1), dt.date(2011, 5, 12), 1)
    days = [s.cutover_start.date().day for s in slots]
    assert days == [1, 2, 8, 9, 10, 11]


def test_a_window_that_runs_into_the_deadline_is_not_used() -> None:
    the_site = site(cutover_windows=["Thu 20:00-Fri 10:00"])
    # The deadline is Friday 2011-07-01 00:00: Thursday night's window would end after it.
    slots = wave_slots(the_site, dt.date(2011, 6, 1), dt.date(2011, 7, 1), 7)
    assert slots[-1].cutover_start == dt.datetime(2011, 6, 23, 20, 0)


def test_without_windows_cut_overs_keep_the_wave_days_and_skip_closed_days() -> None:
    the_site = site(cutover_window_h=14, blackout=["2011-05-09"])
    slots = wave_slots(the_site, dt.date(2011, 5, 2), dt.date(2011, 5, 30), 7)
    assert [s.cutover_start.date().day for s in slots] == [10, 16, 23]
    assert all(s.window_h == 14 for s in slots)


def test_a_daylight_saving_night_is_an_hour_shorter() -> None:
    # Europe/Berlin springs forward on 2011-03-27 at 02:00: Sat 22:00-Sun 06:00 is 7 h.
    the_site = site(cutover_windows=["Sat 22:00-Sun 06:00"], timezone="Europe/Berlin")
    slots = wave_slots(the_site, dt.date(2011, 3, 14), dt.date(2011, 4, 4), 7)
    assert [s.window_h for s in slots] == [8.0, 7.0, 8.0]


def test_the_plan_prints_times_with_their_offset() -> None:
    the_site = site(cutover_windows=["Sat 20:00-Sun 10:00"], holidays="JP")
    servers = [server(f"s{i}", storage_gb=50.0) for i in range(4)]
    req = request(pct=2.0, days=20)
    plan = make_plan(servers, the_site, req)
    assert plan.feasible and verify_plan(plan, servers, the_site, req) == []
    from kaikyo.plan import plan_json

    doc = plan_json(plan)
    assert doc["timezone"] == "Asia/Tokyo"
    first = doc["waves"][0]
    assert first["cutover_start"] == "2011-05-07T20:00+09:00"
    assert first["cutover_end"] == "2011-05-08T10:00+09:00"
    assert first["start"].endswith("+09:00")


def test_verify_catches_a_cut_over_moved_onto_a_holiday_or_out_of_its_window() -> None:
    the_site = site(cutover_windows=["Sat 20:00-Sun 10:00"], holidays="JP")
    servers = [server(f"s{i}", storage_gb=50.0) for i in range(4)]
    req = request(pct=2.0, days=20)
    plan = make_plan(servers, the_site, req)
    first = plan.waves[0]

    def forged(**changes: object) -> list[str]:
        wave = dataclasses.replace(first, **changes)  # type: ignore[arg-type]
        return verify_plan(
            dataclasses.replace(plan, waves=(wave, *plan.waves[1:])), servers, the_site, req
        )

    # Tuesday 2011-05-03, Constitution Day.
    holiday = dt.datetime(2011, 5, 3, 20, 0)
    assert any("holiday" in p for p in forged(cutover=holiday, cutover_end=holiday))
    wednesday = dt.datetime(2011, 5, 4 + 7, 1, 0)
    problems = forged(cutover=wednesday, cutover_end=wednesday + dt.timedelta(hours=14))
    assert any("no declared cut-over window" in p for p in problems)
    late = dt.datetime(2011, 5, 22, 10, 0)  # the deadline is 2011-05-22 00:00
    assert any("after the deadline" in p for p in forged(cutover_end=late))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"cutover_windows": ["Sat 20:00"]}, "expected e.g. 'Sat 20:00-Sun 10:00'"),
        ({"cutover_windows": ["Caturday 20:00-Sun 10:00"]}, "days are Mon"),
        ({"cutover_windows": ["Sat 25:00-Sun 10:00"]}, "cutover window"),
        ({"cutover_windows": ["daily 01:00-Sun 05:00"]}, "cutover window"),
        ({"cutover_windows": []}, "expected a list"),
        ({"cutover_windows": ["Sat 20:00-Sun 10:00"], "cutover_window_h": 14}, "both given"),
        ({"timezone": "Asia/Atlantis"}, "unknown time zone"),
        ({"holidays": "XX"}, "no country"),
        ({"holidays": ["2011-13-01"]}, "expected a date"),
        ({"blackout": "2011-05-01"}, "expected a list"),
        ({"blackout": ["2011-05-08/2011-04-29"]}, "ends before it begins"),
    ],
)
def test_a_bad_calendar_key_is_one_clear_error(data: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        site(**data)
    said = f"{caught.value} ({caught.value.hint})"
    assert words in said and "\n" not in said
