"""Site file parsing: a YAML mapping into a :class:`Site`, every default overridable.

Unknown keys are errors rather than ignored, because a misspelt ``pue_primray`` silently
falling back to the default would change the answer without anyone noticing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import yaml

from kaikyo.errors import ConfigError
from kaikyo.plan import defaults
from kaikyo.plan.model import LinkLimit, Site

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
}
_OTHER = ("name", "currency", "link_limits", "restriction_end", "restricted_hours")


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
