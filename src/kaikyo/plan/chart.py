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
from kaikyo.plan.words import board_lines, verdict

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
    fig = Figure(figsize=(10, 7), layout="constrained")
    FigureCanvasAgg(fig)
    # The Gantt spans the migration only (sharing the curve's months would squeeze it
    # into a sliver); the curve runs to the end of the restriction.
    gantt, curve = fig.subplots(2, 1, height_ratios=[1, 1.3])
    fig.suptitle(verdict(plan).replace(": ", ":\n", 1), fontsize=10, fontweight="bold")
    active = [w for w in plan.waves if w.servers]
    for row, w in enumerate(active):
        gantt.barh(
            row,
            w.cutover_end - w.cutover,
            left=w.cutover,
            height=0.7,
            color=CUT_COLOUR,
            alpha=0.35,
            label="cut-over window" if row == 0 else None,
        )
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
    zone = _zone_name(plan)
    gantt.set_title(f"Waves: seed copy over the link, then cut-over ({zone})")
    gantt.set_xlim(
        dt.datetime.combine(plan.start, dt.time()),
        dt.datetime.combine(plan.deadline, dt.time()) + dt.timedelta(days=1),
    )
    if active:
        gantt.legend(loc="lower left", fontsize=8, framealpha=0.9)
    times, kws = peak_curve(plan)
    curve.plot(times, kws, color="black", label="primary peak kW")
    curve.axhline(
        plan.cap_kw,
        color=CUT_COLOUR,
        linestyle="--",
        label=f"cap {plan.cap_kw:.0f} kW (target -{plan.target_kw:.0f} kW)",
    )
    deadline = dt.datetime.combine(plan.deadline, dt.time())
    period_end = dt.datetime.combine(plan.savings.period_end, dt.time())
    curve.axvspan(deadline, period_end, color="#f2c14e", alpha=0.18, label="restriction period")
    curve.axvline(deadline, color="grey", linestyle=":", label=f"deadline {plan.deadline}")
    # The range the rated watts leave: where the peak may end up.
    lo_kw, hi_kw = plan.reduction_range_kw
    if hi_kw > lo_kw:
        curve.fill_between(
            [deadline, period_end],
            plan.baseline_peak_kw - hi_kw,
            plan.baseline_peak_kw - lo_kw,
            color="grey",
            alpha=0.25,
            label=f"if rated servers draw ±{plan.rated_spread_pct:g}%",
        )
    final = kws[-1]
    below = plan.cap_kw - final
    curve.annotate(
        f"peak {final:.1f} kW: {abs(below):.1f} kW {'below' if below >= 0 else 'ABOVE'} the cap",
        (times[-1], final),
        xytext=(-8, -14 if below >= 0 else 8),
        textcoords="offset points",
        ha="right",
        fontsize=8,
        fontweight="bold",
    )
    curve.set_ylabel("kW at the primary's meter")
    low = min(*kws, plan.cap_kw, plan.baseline_peak_kw - max(hi_kw, lo_kw))
    curve.set_ylim(low - 0.25 * (plan.baseline_peak_kw - low) - 1, plan.baseline_peak_kw * 1.03)
    curve.set_title("Peak demand at the primary site")
    # Outside the plot: a legend inside covers the curve where it meets the cap.
    curve.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    for axes in (gantt, curve):
        for label in axes.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    return fig


def _zone_name(plan: Plan) -> str:
    zone = zoneinfo.ZoneInfo(plan.timezone)
    return dt.datetime.combine(plan.deadline, dt.time(), zone).tzname() or plan.timezone


def render_png(plan: Plan) -> bytes:
    buf = io.BytesIO()
    figure(plan).savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def render_svg(plan: Plan) -> str:
    buf = io.StringIO()
    figure(plan).savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype for inline use


_CSS = (
    "body{font-family:'Noto Sans CJK JP','Noto Sans',sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px}"
    "td.n{text-align:right}.verdict{font-size:1.2em;font-weight:bold}"
    ".bad{color:#b00}svg{max-width:100%;height:auto}"
    "details{margin:.3em 0}summary{cursor:pointer}"
    "@media print{body{margin:0;max-width:none}details{display:block}"
    "details>summary{list-style:none}section{break-inside:avoid}"
    "figure{break-after:page}}"
)


def render_html(plan: Plan) -> str:
    """A standalone page a board can read and print: the verdict, the margin, range and net
    figures, the savings, the chart (inline SVG), the waves with their servers, the reasons
    and the notes."""
    e = html.escape
    abbrev = e(_zone_name(plan))
    by_wave: dict[int, list[str]] = {}
    for m in plan.moves:
        by_wave.setdefault(m.wave, []).append(m.server)
    rows = "".join(
        f"<tr><td class='n'>{w.index}</td><td>{w.go_no_go:%m-%d %a %H:%M}</td>"
        f"<td>{w.cutover:%Y-%m-%d %a %H:%M} to {w.cutover_end:%a %H:%M}</td>"
        f"<td>{w.rollback_by:%a %H:%M}</td><td class='n'>{w.servers}</td>"
        f"<td class='n'>{w.send_gb:,.0f}</td><td class='n'>{w.seed_hours:.1f}</td>"
        f"<td class='n'>{w.downtime_hours:.1f}</td><td class='n'>{w.kw_removed:.1f}</td></tr>"
        for w in plan.waves
        if w.servers
    )
    owners = {w.index: w.owners for w in plan.waves}
    servers = "".join(
        f"<details><summary>Wave {w}: {len(ids)} servers</summary>"
        + "".join(
            f"<p>{e(o.group)}: owner {e(o.owner or '-')}, sign-off {e(o.sign_off or '-')}</p>"
            for o in owners.get(w, ())
        )
        + f"<p>{', '.join(e(i) for i in sorted(ids))}</p></details>"
        for w, ids in sorted(by_wave.items())
    )
    s = plan.savings
    savings = (
        f"{s.period_start} to {s.period_end}: the primary draws {s.kwh_saved_primary:,.0f} kWh "
        f"less ({s.cost_saved:,.0f} {e(s.currency)}, {s.co2_saved_kg / 1000:,.1f} t CO2); the "
        f"haven {s.kwh_added_haven:,.0f} kWh more ({s.cost_added:,.0f} {e(s.currency)}, "
        f"{s.co2_added_kg / 1000:,.1f} t CO2)."
    )
    figures = "".join(
        f"<li{' class=bad' if 'UNFAVOURABLE' in line or 'short' in line else ''}>{e(line)}</li>"
        for line in board_lines(plan)
    )
    reasons = "".join(f"<li>{e(line)}</li>" for line in plan.binding + plan.blockers)
    notes = "".join(f"<li>{e(line)}</li>" for line in plan.notes)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>kaikyo evacuation plan {plan.start} to {plan.deadline}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Evacuation plan {plan.start} to {plan.deadline}</h1>"
        f"<p class='verdict{'' if plan.feasible else ' bad'}'>{e(verdict(plan))}</p>"
        f"<section><h2>Margin, range and net</h2><ul>{figures}</ul><p>{savings}</p></section>"
        f"<figure>{render_svg(plan)}</figure>"
        f"<section><h2>Waves</h2><table><tr><th>wave</th><th>go/no-go ({abbrev})</th>"
        f"<th>cut-over ({abbrev})</th><th>roll back by</th>"
        "<th>servers</th><th>GB sent</th><th>seed h</th><th>downtime h</th><th>kW off</th></tr>"
        f"{rows}</table>{servers}</section>"
        f"<section><h2>What binds</h2><ul>{reasons}</ul></section>"
        f"<section><h2>Notes</h2><ul>{notes or '<li>none</li>'}</ul></section>"
        "</body></html>\n"
    )
