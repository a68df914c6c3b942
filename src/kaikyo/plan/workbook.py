"""The plan as a workbook a board can read: summary, waves, servers per wave, assumptions.

Written with XlsxWriter (an Excel 2007+ file, no macros, no external links). Times are the
site's wall-clock times, with the zone in the headers; figures stay numbers, formatted, so
the board's own sums work.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter

from kaikyo.plan.model import PlanRequest, Server, Site
from kaikyo.plan.report import server_net
from kaikyo.plan.result import Plan
from kaikyo.plan.words import board_lines, verdict


def workbook_bytes(
    plan: Plan, servers: Sequence[Server], site: Site, request: PlanRequest
) -> bytes:
    """The workbook's bytes (the caller writes them in one piece)."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "remove_timezone": True})
    fmt = _Formats(book)
    zone = _zone_label(plan)
    _summary(book.add_worksheet("Summary"), fmt, plan)
    _waves(book.add_worksheet("Waves"), fmt, plan, zone)
    _servers(book.add_worksheet("Servers"), fmt, plan, servers, site, zone)
    _assumptions(book.add_worksheet("Assumptions"), fmt, plan, site, request)
    book.close()
    return buf.getvalue()


class _Formats:
    def __init__(self, book: Any) -> None:
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.bold = book.add_format({"bold": True})
        self.head = book.add_format({"bold": True, "bg_color": "#dde6f0", "border": 1})
        self.time = book.add_format({"num_format": "yyyy-mm-dd ddd hh:mm"})
        self.kw = book.add_format({"num_format": "#,##0.0"})
        self.money = book.add_format({"num_format": "#,##0"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.bad = book.add_format({"text_wrap": True, "valign": "top", "font_color": "#b00000"})


def _zone_label(plan: Plan) -> str:
    import datetime as dt
    import zoneinfo

    zone = zoneinfo.ZoneInfo(plan.timezone)
    return dt.datetime.combine(plan.deadline, dt.time(), zone).tzname() or plan.timezone


def _table(sheet: Any, fmt: _Formats, row: int, headers: list[str], widths: list[int]) -> None:
    for col, (name, width) in enumerate(zip(headers, widths, strict=True)):
        sheet.write(row, col, name, fmt.head)
        sheet.set_column(col, col, width)
    sheet.freeze_panes(row + 1, 0)


def _summary(sheet: Any, fmt: _Formats, plan: Plan) -> None:
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 18)
    sheet.write(0, 0, f"Evacuation plan {plan.start} to {plan.deadline}", fmt.title)
    sheet.merge_range(1, 0, 1, 5, verdict(plan), fmt.bad if not plan.feasible else fmt.wrap)
    sheet.set_row(1, 32)
    s = plan.savings
    figures: list[tuple[str, float | str, Any]] = [
        ("Baseline peak (kW)", plan.baseline_peak_kw, fmt.kw),
        ("Target (kW)", plan.target_kw, fmt.kw),
        ("Margin asked (%)", plan.margin_pct, fmt.kw),
        ("Planned for (kW)", plan.planned_kw, fmt.kw),
        ("Reduction (kW)", plan.reduction_kw, fmt.kw),
        ("Reduction, low end (kW)", plan.reduction_range_kw[0], fmt.kw),
        ("Reduction, high end (kW)", plan.reduction_range_kw[1], fmt.kw),
        ("Share on rated watts (%)", plan.rated_share_pct, fmt.kw),
        ("Servers moved", len(plan.moves), fmt.money),
        ("Storage leaving (GB)", plan.storage_gb_moved, fmt.money),
        ("Sent over the link (GB)", plan.send_gb, fmt.money),
        (f"Net energy {s.period_start} to {s.period_end} (kWh)", s.net_kwh, fmt.money),
        (f"Net cost ({s.currency})", s.net_cost, fmt.money),
        ("Net CO2 (t)", s.net_co2_kg / 1000.0, fmt.kw),
    ]
    if plan.project is not None:
        p = plan.project
        figures += [
            (f"One-off ({p.currency})", p.one_off, fmt.money),
            (f"Running per month ({p.currency})", p.running_per_month, fmt.money),
            (f"Power saved per month ({p.currency})", p.energy_saving_per_month, fmt.money),
            ("Payback (months)", "never" if p.payback_months is None else p.payback_months, fmt.kw),
        ]
    row = 3
    for label, value, style in figures:
        sheet.write(row, 0, label, fmt.bold)
        sheet.write(row, 1, value, style)
        row += 1
    row += 1
    for title, lines in (
        ("In words", board_lines(plan)),
        ("What binds", list(plan.binding)),
        ("What blocks", list(plan.blockers)),
        ("Notes", list(plan.notes)),
    ):
        if not lines:
            continue
        sheet.write(row, 0, title, fmt.bold)
        row += 1
        for line in lines:
            style = fmt.bad if "UNFAVOURABLE" in line or "NEVER" in line else fmt.wrap
            sheet.merge_range(row, 0, row, 5, line, style)
            sheet.set_row(row, 30)
            row += 1


def _waves(sheet: Any, fmt: _Formats, plan: Plan, zone: str) -> None:
    headers = [
        "wave", f"go/no-go ({zone})", f"cut-over from ({zone})", f"cut-over to ({zone})",
        f"roll back by ({zone})", "groups", "servers", "GB sent", "seed h", "downtime h",
        "kW off", "cumulative kW", "owners", "sign-off",
    ]  # fmt: skip
    _table(sheet, fmt, 0, headers, [6, 20, 20, 20, 20, 8, 8, 10, 8, 10, 9, 12, 30, 30])
    row = 1
    for w in plan.waves:
        if not w.servers:
            continue
        owners = "; ".join(f"{o.group}: {o.owner}" for o in w.owners if o.owner)
        signers = "; ".join(f"{o.group}: {o.sign_off}" for o in w.owners if o.sign_off)
        values: list[tuple[Any, Any]] = [
            (w.index, None),
            (w.go_no_go, fmt.time),
            (w.cutover, fmt.time),
            (w.cutover_end, fmt.time),
            (w.rollback_by, fmt.time),
            (len(w.groups), None),
            (w.servers, None),
            (w.send_gb, fmt.money),
            (w.seed_hours, fmt.kw),
            (w.downtime_hours, fmt.kw),
            (w.kw_removed, fmt.kw),
            (w.cumulative_kw, fmt.kw),
            (owners, fmt.wrap),
            (signers, fmt.wrap),
        ]
        for col, (value, style) in enumerate(values):
            if hasattr(value, "hour"):
                sheet.write_datetime(row, col, value, style)
            else:
                sheet.write(row, col, value, style)
        row += 1


def _servers(
    sheet: Any, fmt: _Formats, plan: Plan, servers: Sequence[Server], site: Site, zone: str
) -> None:
    currency = plan.savings.currency
    headers = [
        "wave", "server", "group", "role", "owner", "sign-off", f"cut-over ({zone})",
        "storage GB", "watts peak", "power source", "net kWh", f"net {currency}", "net kg CO2",
    ]  # fmt: skip
    _table(sheet, fmt, 0, headers, [6, 16, 12, 24, 16, 16, 20, 10, 10, 12, 10, 10, 10])
    by_id = {s.id: s for s in servers}
    cutover = {w.index: w.cutover for w in plan.waves}
    for row, m in enumerate(sorted(plan.moves, key=lambda m: (m.wave, m.group, m.server)), 1):
        s = by_id[m.server]
        kwh, cost, co2 = server_net(s, site, plan.savings)
        sheet.write(row, 0, m.wave)
        sheet.write_string(row, 1, s.id)
        sheet.write_string(row, 2, s.group)
        sheet.write_string(row, 3, s.role)
        sheet.write_string(row, 4, s.owner)
        sheet.write_string(row, 5, s.sign_off)
        sheet.write_datetime(row, 6, cutover[m.wave], fmt.time)
        sheet.write(row, 7, s.storage_gb, fmt.money)
        sheet.write(row, 8, s.watts_peak, fmt.money)
        sheet.write_string(row, 9, s.power_source)
        sheet.write(row, 10, kwh, fmt.kw)
        sheet.write(row, 11, cost, fmt.money)
        sheet.write(row, 12, co2, fmt.kw)
    if plan.moves:
        sheet.autofilter(0, 0, len(plan.moves), len(headers) - 1)


def _assumptions(sheet: Any, fmt: _Formats, plan: Plan, site: Site, request: PlanRequest) -> None:
    """Every input the figures rest on, so the board (or an auditor) can redo them."""
    _table(sheet, fmt, 0, ["assumption", "value"], [34, 50])
    windows = ", ".join(
        f"{_DAYS[w.start // 1440]} {w.start % 1440 // 60:02d}:{w.start % 60:02d} for "
        f"{w.minutes / 60:g} h"
        for w in site.cutover_windows
    )
    rows: list[tuple[str, Any]] = [
        ("target", str(request.target)),
        ("margin (%)", request.margin_pct),
        ("rated spread (%)", request.rated_spread_pct),
        ("objective", request.objective.value),
        ("start", plan.start.isoformat()),
        ("deadline", plan.deadline.isoformat()),
        ("days between cut-overs (at least)", request.wave_days),
        ("servers per wave", request.servers_per_wave or "no limit"),
        ("time zone", site.timezone),
        ("cut-over windows", windows or f"every {request.wave_days} days at 00:00"),
        ("public holidays of", site.holiday_country or "none"),
        ("closed dates listed", len(site.closed_dates)),
        ("go/no-go before a cut-over (h)", site.go_no_go_hours),
        ("roll back by, before the window closes (h)", site.rollback_hours),
        ("baseline peak (kW)", site.baseline_peak_kw),
        ("PUE primary", site.pue_primary),
        ("PUE haven", site.pue_haven),
        ("round trip (ms)", site.rtt_ms),
        ("link (Mbit/s)", site.link_mbps),
        ("link usable share", site.link_usable),
        ("dedup ratio", site.dedup_ratio),
        (f"price primary ({site.currency}/kWh)", site.price_per_kwh),
        (f"price haven ({site.currency}/kWh)", site.price_haven_per_kwh),
        ("CO2 primary (kg/kWh)", site.co2_kg_per_kwh),
        ("CO2 haven (kg/kWh)", site.co2_haven_kg_per_kwh),
        ("restriction ends", site.restriction_end.isoformat()),
        ("cut-over overhead (h)", site.cutover_hours),
        ("delta interval (h)", site.delta_interval_hours),
    ]
    for row, (label, value) in enumerate(rows, 1):
        sheet.write_string(row, 0, label)
        sheet.write(row, 1, value)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
