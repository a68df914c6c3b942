"""Site file parsing: a YAML mapping into a :class:`Site`, every default overridable.

Unknown keys are errors rather than ignored, because a misspelt ``pue_primray`` silently
falling back to the default would change the answer without anyone noticing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

import yaml

from kaikyo.errors import ConfigError
from kaikyo.plan import defaults
from kaikyo.plan.model import CutoverWindow, LinkLimit, ProjectCosts, Site

_NUMBERS: dict[str, float | None] = {
    "baseline_peak_kw": None,
    "non_it_kw": None,
    "pue_primary": defaults.PUE_PRIMARY,
    "pue_haven": defaults.PUE_HAVEN,
    "rtt_ms": defaults.RTT_MS,
    "link_mbps": defaults.LINK_MBPS,
    "link_usable": defaults.LINK_USABLE,
    "dedup_ratio": defaults.DEDUP_RATIO,
    "price_per_kwh": defaults.PRICE_PER_KWH,
    "price_haven_per_kwh": defaults.PRICE_HAVEN_PER_KWH,
    "co2_kg_per_kwh": defaults.CO2_KG_PER_KWH,
    "co2_haven_kg_per_kwh": defaults.CO2_HAVEN_KG_PER_KWH,
    "metering_minutes": defaults.METERING_MINUTES,
    "cutover_hours": defaults.CUTOVER_HOURS,
    "delta_interval_hours": defaults.DELTA_INTERVAL_HOURS,
    "cutover_window_h": None,
    "haven_capacity_kw": None,
    # The project's cost (optional; in ``currency``): the line, the haven's rent by kW of
    # draw or by rack, and the one-off work per server moved. With any, the plan prints
    # its payback.
    "line_cost_per_month": None,
    "haven_cost_per_kw_month": None,
    "haven_cost_per_rack_month": None,
    "servers_per_rack": None,
    "labour_per_server": None,
    # Governance: the go/no-go decision this long before each cut-over, and the rollback
    # decided this long before its window closes (time to bring the primary back).
    "go_no_go_hours": defaults.GO_NO_GO_HOURS,
    "rollback_hours": defaults.ROLLBACK_HOURS,
}
_OTHER = (
    "name",
    "currency",
    "link_limits",
    "restriction_end",
    "restricted_hours",
    "cutover_windows",
    "timezone",
    "holidays",
    "blackout",
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK = 7 * 24 * 60
_WINDOW = re.compile(
    r"^\s*(?P<day>[A-Za-z]+)\s+(?P<start>\d{1,2}:\d\d)\s*-\s*"
    r"(?:(?P<end_day>[A-Za-z]+)\s+)?(?P<end>\d{1,2}:\d\d)\s*$"
)


def load_site(text: str, it_peak_kw: float) -> Site:
    """Parse a site YAML document.

    ``it_peak_kw`` (the fleet's IT peak at the meter) completes the baseline when the file gives
    ``non_it_kw`` instead of ``baseline_peak_kw``.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"site: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("site: expected a mapping of keys to values")
    return parse_site(data, it_peak_kw)


def parse_site(data: Mapping[str, Any], it_peak_kw: float) -> Site:
    unknown = set(data) - set(_NUMBERS) - set(_OTHER)
    if unknown:
        raise ConfigError(
            f"site: unknown key(s) {', '.join(sorted(map(str, unknown)))}",
            hint="see docs/PLANNER.md for the site keys",
        )
    num = {key: _number(data, key, default) for key, default in _NUMBERS.items()}
    baseline = num["baseline_peak_kw"]
    if baseline is None:
        if num["non_it_kw"] is None:
            raise ConfigError("site: key 'baseline_peak_kw' is required (or give 'non_it_kw')")
        baseline = num["non_it_kw"] + it_peak_kw
    for key in ("pue_primary", "pue_haven"):
        if (num[key] or 0) < 1:
            raise ConfigError(f"site: key {key!r}: a PUE is at least 1.0")
    if not 0 < (num["link_usable"] or 0) <= 1:
        raise ConfigError("site: key 'link_usable': expected a fraction in (0, 1]")
    if (num["dedup_ratio"] or 0) <= 0 or (num["link_mbps"] or 0) <= 0 or baseline <= 0:
        raise ConfigError("site: keys 'dedup_ratio', 'link_mbps' and the baseline must be > 0")
    if num["metering_minutes"] not in (30.0, 60.0):
        raise ConfigError("site: key 'metering_minutes': expected 30 or 60")
    windows = _windows(data.get("cutover_windows"))
    if windows and num["cutover_window_h"] is not None:
        raise ConfigError(
            "site: keys 'cutover_windows' and 'cutover_window_h' both given",
            hint="keep cutover_windows: each window's length is its own",
        )
    country, holiday_dates = _holidays(data.get("holidays"))
    return Site(
        name=str(data.get("name", "")),
        baseline_peak_kw=baseline,
        pue_primary=_req(num, "pue_primary"),
        pue_haven=_req(num, "pue_haven"),
        rtt_ms=_req(num, "rtt_ms"),
        link_mbps=_req(num, "link_mbps"),
        link_usable=_req(num, "link_usable"),
        dedup_ratio=_req(num, "dedup_ratio"),
        price_per_kwh=_req(num, "price_per_kwh"),
        price_haven_per_kwh=_req(num, "price_haven_per_kwh"),
        co2_kg_per_kwh=_req(num, "co2_kg_per_kwh"),
        co2_haven_kg_per_kwh=_req(num, "co2_haven_kg_per_kwh"),
        currency=str(data.get("currency", defaults.CURRENCY)),
        link_limits=_limits(data.get("link_limits") or []),
        restriction_end=_date(
            data.get("restriction_end", defaults.RESTRICTION_END), "restriction_end"
        ),
        restricted_hours=_hours(data.get("restricted_hours", "09:00-20:00")),
        metering_minutes=int(_req(num, "metering_minutes")),
        cutover_hours=_req(num, "cutover_hours"),
        delta_interval_hours=_req(num, "delta_interval_hours"),
        cutover_window_h=num["cutover_window_h"],
        haven_capacity_kw=num["haven_capacity_kw"],
        costs=ProjectCosts(
            line_per_month=num["line_cost_per_month"],
            haven_per_kw_month=num["haven_cost_per_kw_month"],
            haven_per_rack_month=num["haven_cost_per_rack_month"],
            servers_per_rack=num["servers_per_rack"] or defaults.SERVERS_PER_RACK,
            labour_per_server=num["labour_per_server"],
        ),
        go_no_go_hours=_req(num, "go_no_go_hours"),
        rollback_hours=_req(num, "rollback_hours"),
        cutover_windows=windows,
        timezone=_timezone(data.get("timezone", "Asia/Tokyo")),
        holiday_country=country,
        closed_dates=holiday_dates | _blackout(data.get("blackout")),
    )


def _req(num: Mapping[str, float | None], key: str) -> float:
    value = num[key]
    assert value is not None  # every key read through _req has a default
    return value


def _number(data: Mapping[str, Any], key: str, default: float | None) -> float | None:
    raw = data.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"site: key {key!r}: expected a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"site: key {key!r}: expected a number >= 0, got {raw!r}")
    return value


def _date(raw: Any, key: str) -> dt.date:
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise ConfigError(f"site: key {key!r}: expected a date YYYY-MM-DD, got {raw!r}") from None


def _hours(raw: Any) -> tuple[int, int]:
    """Parse ``"HH:00-HH:00"``; the planner works in whole clock hours, like the 2011 meter."""
    text = str(raw)
    try:
        first, last = (part.strip() for part in text.split("-"))
        start_h, start_m = (int(x) for x in first.split(":"))
        end_h, end_m = (int(x) for x in last.split(":"))
    except ValueError:
        raise ConfigError(f"site: hours {text!r}: expected 'HH:00-HH:00'") from None
    if start_m or end_m or not 0 <= start_h < end_h <= 24:
        raise ConfigError(f"site: hours {text!r}: expected whole hours, start before end")
    return start_h, end_h


def _limits(raw: Any) -> tuple[LinkLimit, ...]:
    if not isinstance(raw, list):
        raise ConfigError("site: key 'link_limits': expected a list")
    limits = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, Mapping) or "hours" not in item or "mbps" not in item:
            raise ConfigError(f"site: link_limits item {i}: needs 'hours' and 'mbps'")
        start_h, end_h = _hours(item["hours"])
        mbps = _number(item, "mbps", None)
        days = str(item.get("days", "weekdays"))
        if days not in ("weekdays", "all"):
            raise ConfigError(f"site: link_limits item {i}: 'days' is 'weekdays' or 'all'")
        limits.append(LinkLimit(start_h, end_h, mbps or 0.0, weekdays_only=days == "weekdays"))
    return tuple(limits)


def _windows(raw: Any) -> tuple[CutoverWindow, ...]:
    """``["Sat 20:00-Sun 10:00", "daily 01:00-05:00", "weekdays 22:00-06:00"]``: a day (or
    ``daily``, ``weekdays``) and a time, to an optional day and a time; an end at or before
    the start on the same day is on the next day."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            "site: key 'cutover_windows': expected a list such as [\"Sat 20:00-Sun 10:00\"]"
        )
    windows: list[CutoverWindow] = []
    for item in raw:
        windows += _window(str(item))
    return tuple(sorted(set(windows), key=lambda w: (w.start, w.minutes)))


def _window(text: str) -> list[CutoverWindow]:
    bad = (
        f"site: cutover window {text!r}: expected e.g. 'Sat 20:00-Sun 10:00' or 'daily 01:00-05:00'"
    )
    match = _WINDOW.match(text)
    if match is None:
        raise ConfigError(bad)
    day, end_day = match["day"].lower(), (match["end_day"] or "").lower()
    start, end = _clock(match["start"], bad), _clock(match["end"], bad)
    same_day = (end - start) % (24 * 60) or 24 * 60  # an end at or before the start: next day
    if day in ("daily", "weekdays"):
        if end_day:
            raise ConfigError(bad, hint="a daily or weekdays window ends at a time, not a day")
        days = range(7) if day == "daily" else range(5)
        return [CutoverWindow(d * 24 * 60 + start, same_day) for d in days]
    if day[:3] not in _DAYS or (end_day and end_day[:3] not in _DAYS):
        raise ConfigError(bad, hint="days are Mon, Tue, Wed, Thu, Fri, Sat, Sun, daily, weekdays")
    begin = _DAYS.index(day[:3]) * 24 * 60 + start
    if not end_day:
        return [CutoverWindow(begin, same_day)]
    finish = _DAYS.index(end_day[:3]) * 24 * 60 + end
    return [CutoverWindow(begin, (finish - begin) % _WEEK or _WEEK)]


def _clock(text: str, bad: str) -> int:
    hours, minutes = (int(x) for x in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ConfigError(bad)
    return hours * 60 + minutes


def _timezone(raw: Any) -> str:
    name = str(raw)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"site: key 'timezone': unknown time zone {name!r}",
            hint="an IANA name such as Asia/Tokyo or Asia/Seoul",
        ) from None
    return name


def _holidays(raw: Any) -> tuple[str | None, frozenset[dt.date]]:
    """A country code (``JP``: its public holidays, from the ``holidays`` project) or a list
    of dates."""
    if raw is None:
        return None, frozenset()
    if isinstance(raw, str):
        import holidays

        code = raw.strip().upper()
        if code not in holidays.list_supported_countries():
            raise ConfigError(
                f"site: key 'holidays': {raw!r} is no country the holidays library knows",
                hint="an ISO 3166 code such as JP or KR, or a list of dates",
            )
        return code, frozenset()
    if not isinstance(raw, list):
        raise ConfigError("site: key 'holidays': expected a country code or a list of dates")
    return None, frozenset(_date(d, "holidays") for d in raw)


def _blackout(raw: Any) -> frozenset[dt.date]:
    """Dates, and ranges ``2011-04-29/2011-05-08`` (both days included)."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise ConfigError(
            "site: key 'blackout': expected a list of dates or ranges like 2011-04-29/2011-05-08"
        )
    days: set[dt.date] = set()
    for item in raw:
        if isinstance(item, str) and "/" in item:
            first, _, last = item.partition("/")
            begin, end = _date(first.strip(), "blackout"), _date(last.strip(), "blackout")
            if end < begin:
                raise ConfigError(f"site: key 'blackout': range {item!r} ends before it begins")
            days.update(begin + dt.timedelta(days=i) for i in range((end - begin).days + 1))
        else:
            days.add(_date(item, "blackout"))
    return frozenset(days)
