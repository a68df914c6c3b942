"""Charts of a plan: a Gantt of the waves above the primary's peak-kW curve.

Rendered with matplotlib's object API on the Agg canvas (no pyplot global state, no display),
to PNG bytes or to a self-contained HTML page with the chart as inline SVG (no CDN, no
scripts), so the file can be mailed to a board or archived as evidence.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import zoneinfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kaikyo.plan.result import Plan

SEED_COLOUR = "#4c78a8"
CUT_COLOUR = "#e45756"


def peak_curve(plan: Plan) -> tuple[list[dt.datetime], list[float]]:
    """Step points of the primary's peak kW from the start to the end of the restriction."""
    begin = dt.datetime.combine(plan.start, dt.time())
    end = dt.datetime.combine(plan.savings.period_end, dt.time()) + dt.timedelta(days=14)
    times, kws = [begin], [plan.baseline_peak_kw]
    for w in plan.waves:
        if w.servers:
            times += [w.cutover, w.cutover]
            kws += [kws[-1], plan.baseline_peak_kw - w.cumulative_kw]
    times.append(end)
    kws.append(kws[-1])
    return times, kws


def figure(plan: Plan) -> Figure:
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    gantt, curve = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.3])
    active = [w for w in plan.waves if w.servers]
    for row, w in enumerate(active):
        if w.seed_start and w.seed_end:
            gantt.barh(
                row,
                w.seed_end - w.seed_start,
                left=w.seed_start,
                height=0.5,
                color=SEED_COLOUR,
                label="seed copy" if row == 0 else None,
            )
        gantt.plot(
            [w.cutover],
            [row],
            marker="D",
            color=CUT_COLOUR,
            linestyle="none",
            label="cut-over" if row == 0 else None,
        )
        gantt.annotate(
            f" {w.servers} servers, {w.kw_removed:.0f} kW",
            (w.cutover, row),
            va="center",
            fontsize=8,
        )
    gantt.set_yticks(range(len(active)), [f"wave {w.index}" for w in active])
    gantt.invert_yaxis()
    gantt.set_title("Waves: seed copy over the link, then cut-over")
    if active:
        gantt.legend(loc="upper right", fontsize=8)
    times, kws = peak_curve(plan)
    curve.plot(times, kws, color="black", label="primary peak kW")
    curve.axhline(
        plan.cap_kw,
        color=CUT_COLOUR,
        linestyle="--",
        label=f"cap {plan.cap_kw:.0f} kW (target -{plan.target_kw:.0f} kW)",
    )
    deadline = dt.datetime.combine(plan.deadline, dt.time())
    curve.axvline(deadline, color="grey", linestyle=":", label=f"deadline {plan.deadline}")
    curve.set_ylabel("kW at the primary's meter")
    low = min(*kws, plan.cap_kw)
    curve.set_ylim(low - 0.1 * (plan.baseline_peak_kw - low) - 1, plan.baseline_peak_kw * 1.02)
    curve.set_title("Peak demand at the primary site")
    curve.legend(loc="lower left", fontsize=8)
    fig.autofmt_xdate()
    return fig


def render_png(plan: Plan) -> bytes:
    buf = io.BytesIO()
    figure(plan).savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def render_svg(plan: Plan) -> str:
    buf = io.StringIO()
    figure(plan).savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype for inline use


def render_html(plan: Plan) -> str:
    """A standalone page: headline figures, the chart (inline SVG) and the wave table."""
    e = html.escape
    verdict = "meets" if plan.feasible else "cannot meet"
    zone = zoneinfo.ZoneInfo(plan.timezone)
    abbrev = e(dt.datetime.combine(plan.deadline, dt.time(), zone).tzname() or plan.timezone)
    rows = "".join(
        f"<tr><td>{w.index}</td><td>{w.cutover:%Y-%m-%d %a %H:%M} to "
        f"{w.cutover_end:%a %H:%M}</td><td>{w.servers}</td>"
        f"<td>{w.send_gb:,.0f}</td><td>{w.seed_hours:.1f}</td><td>{w.downtime_hours:.1f}</td>"
        f"<td>{w.kw_removed:.1f}</td></tr>"
        for w in plan.waves
        if w.servers
    )
    reasons = "".join(f"<li>{e(line)}</li>" for line in plan.binding + plan.blockers)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>kaikyo evacuation plan</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
        "text-align:right}</style></head><body>"
        f"<h1>Evacuation plan {plan.start} to {plan.deadline}</h1>"
        f"<p>The plan {verdict} the target of {plan.target_kw:.1f} kW: it removes "
        f"{plan.reduction_kw:.1f} kW ({plan.reduction_pct:.1f}% of the "
        f"{plan.baseline_peak_kw:g} kW baseline) by moving {len(plan.moves)} servers.</p>"
        f"<figure>{render_svg(plan)}</figure>"
        f"<table><tr><th>wave</th><th>cut-over ({abbrev})</th><th>servers</th><th>GB sent</th>"
        f"<th>seed h</th><th>downtime h</th><th>kW off</th></tr>{rows}</table>"
        f"<ul>{reasons}</ul></body></html>\n"
    )
