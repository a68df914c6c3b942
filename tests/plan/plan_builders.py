"""Shared builders for planner tests."""

from __future__ import annotations

import datetime as dt

from kaikyo.plan import PlanRequest, Server, Site, Target, parse_site


def server(sid: str, group: str | None = None, **kw: object) -> Server:
    base: dict[str, object] = {
        "id": sid,
        "group": group or sid,
        "site": "",
        "watts_avg": 200.0,
        "watts_peak": 365.0,
        "storage_gb": 500.0,
        "change_gb_per_day": 10.0,
        "tier": 3,
        "max_rtt_ms": None,
        "residency": "may-leave",
    }
    base.update(kw)
    return Server(**base)  # type: ignore[arg-type]


def site(**kw: object) -> Site:
    data: dict[str, object] = {"baseline_peak_kw": 100.0}
    data.update(kw)
    return parse_site(data, 0.0)


def request(pct: float = 15.0, days: int = 28, **kw: object) -> PlanRequest:
    base: dict[str, object] = {
        "target": Target(pct=pct),
        "start": dt.date(2011, 5, 2),
        "deadline": dt.date(2011, 5, 2) + dt.timedelta(days=days),
    }
    base.update(kw)
    return PlanRequest(**base)  # type: ignore[arg-type]
