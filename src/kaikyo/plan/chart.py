"""Charts of a plan: a Gantt of the waves above the primary's peak-kW curve.

Rendered with matplotlib's object API on the Agg canvas (no pyplot global state, no display),
to PNG bytes or to a self-contained HTML page with the chart as inline SVG (no CDN, no
scripts), so the file can be mailed to a board or archived as evidence.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import zoneinfo
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kaikyo.plan.labels import label
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


def figure(plan: Plan, lang: str = "en") -> Figure:
    """The chart; ``lang`` "ja" labels it in Japanese (a CJK font must be installed)."""
    L = functools.partial(label, lang)  # noqa: N806
    weight = "bold" if lang == "en" else "normal"  # the IPA fonts have no bold face
    fig = Figure(figsize=(10, 7), layout="constrained")
    FigureCanvasAgg(fig)
    # The Gantt spans the migration only (sharing the curve's months would squeeze it
    # into a sliver); the curve runs to the end of the restriction.
    gantt, curve = fig.subplots(2, 1, height_ratios=[1, 1.3])
    headline = verdict(plan, lang)
    if lang == "en":
        headline = headline.replace(": ", ":\n", 1)
    fig.suptitle(headline, fontsize=10, fontweight=weight)
    active = [w for w in plan.waves if w.servers]
    for row, w in enumerate(active):
        gantt.barh(
            row,
            w.cutover_end - w.cutover,
            left=w.cutover,
            height=0.7,
            color=CUT_COLOUR,
            alpha=0.35,
            label=L("window") if row == 0 else None,
        )
        if w.seed_start and w.seed_end:
            gantt.barh(
                row,
                w.seed_end - w.seed_start,
                left=w.seed_start,
                height=0.5,
                color=SEED_COLOUR,
                label=L("seed") if row == 0 else None,
            )
        gantt.plot(
            [w.cutover],
            [row],
            marker="D",
            color=CUT_COLOUR,
            linestyle="none",
            label=L("cutover") if row == 0 else None,
        )
        gantt.annotate(
            L("wave_note", servers=w.servers, kw=w.kw_removed),
            (w.cutover, row),
            va="center",
            fontsize=8,
        )
    gantt.set_yticks(range(len(active)), [L("wave", n=w.index) for w in active])
    gantt.invert_yaxis()
    zone = _zone_name(plan)
    gantt.set_title(L("gantt_title", zone=zone))
    gantt.set_xlim(
        dt.datetime.combine(plan.start, dt.time()),
        dt.datetime.combine(plan.deadline, dt.time()) + dt.timedelta(days=1),
    )
    if active:
        gantt.legend(loc="lower left", fontsize=8, framealpha=0.9)
    times, kws = peak_curve(plan)
    curve.plot(times, kws, color="black", label=L("peak"))
    curve.axhline(
        plan.cap_kw,
        color=CUT_COLOUR,
        linestyle="--",
        label=L("cap", cap=plan.cap_kw, target=plan.target_kw),
    )
    deadline = dt.datetime.combine(plan.deadline, dt.time())
    period_end = dt.datetime.combine(plan.savings.period_end, dt.time())
    curve.axvspan(deadline, period_end, color="#f2c14e", alpha=0.18, label=L("restriction"))
    curve.axvline(
        deadline, color="grey", linestyle=":", label=L("deadline", deadline=plan.deadline)
    )
    # The range the rated watts leave: where the peak may end up.
    lo_kw, hi_kw = plan.reduction_range_kw
    if hi_kw > lo_kw:
        curve.fill_between(
            [deadline, period_end],
            plan.baseline_peak_kw - hi_kw,
            plan.baseline_peak_kw - lo_kw,
            color="grey",
            alpha=0.25,
            label=L("range", spread=plan.rated_spread_pct),
        )
    final = kws[-1]
    below = plan.cap_kw - final
    curve.annotate(
        L("final_below" if below >= 0 else "final_above", kw=final, gap=abs(below)),
        (times[-1], final),
        xytext=(-8, -14 if below >= 0 else 8),
        textcoords="offset points",
        ha="right",
        fontsize=8,
        fontweight=weight,
    )
    curve.set_ylabel(L("ylabel"))
    low = min(*kws, plan.cap_kw, plan.baseline_peak_kw - max(hi_kw, lo_kw))
    curve.set_ylim(low - 0.25 * (plan.baseline_peak_kw - low) - 1, plan.baseline_peak_kw * 1.03)
    curve.set_title(L("curve_title"))
    # Outside the plot: a legend inside covers the curve where it meets the cap.
    curve.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    for axes in (gantt, curve):
        for tick in axes.get_xticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")
    return fig


def _zone_name(plan: Plan) -> str:
    zone = zoneinfo.ZoneInfo(plan.timezone)
    return dt.datetime.combine(plan.deadline, dt.time(), zone).tzname() or plan.timezone


# Japanese labels need a CJK font (Debian: fonts-ipafont-gothic or fonts-noto-cjk), tried in
# this order. English labels keep matplotlib's own font.
CJK_FONTS = ("IPAGothic", "IPAPGothic", "Noto Sans CJK JP", "TakaoGothic")
_CJK_FILES = ("ipag.ttf", "ipagp.ttf", "NotoSansCJK-Regular.ttc", "TakaoGothic.ttf")


def cjk_fonts() -> list[str]:
    """The CJK fonts matplotlib can use. Its font cache predates fonts installed since it
    was built, so well-known font files are added to it when none is known."""
    from matplotlib import font_manager

    def known() -> list[str]:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return [name for name in CJK_FONTS if name in names]

    if not known():
        import pathlib

        for root in ("/usr/share/fonts", "/usr/local/share/fonts"):
            for path in pathlib.Path(root).rglob("*"):
                if path.name in _CJK_FILES:
                    font_manager.fontManager.addfont(str(path))
    return known()


def cjk_font_missing() -> bool:
    """No font with Japanese glyphs is installed (``--lang ja`` would draw boxes)."""
    return not cjk_fonts()


def _render(plan: Plan, lang: str, fmt: str, **kw: Any) -> bytes:
    import matplotlib

    rc: dict[str, Any] = {"svg.fonttype": "path"}
    if lang == "ja" and (fonts := cjk_fonts()):
        rc["font.family"] = [*fonts, "DejaVu Sans"]
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        buf = io.BytesIO()
        figure(plan, lang).savefig(buf, format=fmt, **kw)
        return buf.getvalue()


def render_png(plan: Plan, lang: str = "en") -> bytes:
    return _render(plan, lang, "png", dpi=110)


def render_svg(plan: Plan, lang: str = "en") -> str:
    text = _render(plan, lang, "svg").decode("utf-8")
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


def render_html(plan: Plan, lang: str = "en") -> str:
    """A standalone page a board can read and print: the verdict, the margin, range and net
    figures, the savings, the chart (inline SVG), the waves with their servers, the reasons
    and the notes."""
    e = html.escape
    L = functools.partial(label, lang)  # noqa: N806
    abbrev = e(_zone_name(plan))
    by_wave: dict[int, list[str]] = {}
    for m in plan.moves:
        by_wave.setdefault(m.wave, []).append(m.server)
    rows = "".join(
        f"<tr><td class='n'>{w.index}</td><td>{w.go_no_go:%m-%d %a %H:%M}</td>"
        f"<td>{w.cutover:%Y-%m-%d %a %H:%M} {L('to')} {w.cutover_end:%a %H:%M}</td>"
        f"<td>{w.rollback_by:%a %H:%M}</td><td class='n'>{w.servers}</td>"
        f"<td class='n'>{w.send_gb:,.0f}</td><td class='n'>{w.seed_hours:.1f}</td>"
        f"<td class='n'>{w.downtime_hours:.1f}</td><td class='n'>{w.kw_removed:.1f}</td></tr>"
        for w in plan.waves
        if w.servers
    )
    owners = {w.index: w.owners for w in plan.waves}
    servers = "".join(
        f"<details><summary>{e(L('wave_servers', n=w, count=len(ids)))}</summary>"
        + "".join(
            "<p>"
            + e(L("owner", group=o.group, owner=o.owner or "-", sign_off=o.sign_off or "-"))
            + "</p>"
            for o in owners.get(w, ())
        )
        + f"<p>{', '.join(e(i) for i in sorted(ids))}</p></details>"
        for w, ids in sorted(by_wave.items())
    )
    s = plan.savings
    savings = e(
        L(
            "savings",
            start=s.period_start,
            end=s.period_end,
            kwh_p=s.kwh_saved_primary,
            cost_p=s.cost_saved,
            co2_p=s.co2_saved_kg / 1000,
            kwh_h=s.kwh_added_haven,
            cost_h=s.cost_added,
            co2_h=s.co2_added_kg / 1000,
            currency=s.currency,
        )
    )
    figures = "".join(
        f"<li{' class=bad' if 'UNFAVOURABLE' in line or 'short' in line else ''}>{e(line)}</li>"
        for line in board_lines(plan)
    )
    reasons = "".join(f"<li>{e(line)}</li>" for line in plan.binding + plan.blockers)
    notes = "".join(f"<li>{e(line)}</li>" for line in plan.notes)
    heads = "".join(f"<th>{e(h)}</th>" for h in L("th", zone=abbrev).split("|"))
    title = e(L("title", start=plan.start, deadline=plan.deadline))
    return (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<title>kaikyo: {title}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{title}</h1>"
        f"<p class='verdict{'' if plan.feasible else ' bad'}'>"
        f"{e(verdict(plan, lang)).replace(chr(10), '<br>')}</p>"
        f"<section><h2>{e(L('h_figures'))}</h2><ul>{figures}</ul><p>{savings}</p></section>"
        f"<figure>{render_svg(plan, lang)}</figure>"
        f"<section><h2>{e(L('h_waves'))}</h2><table><tr>{heads}</tr>"
        f"{rows}</table>{servers}</section>"
        f"<section><h2>{e(L('h_binds'))}</h2><ul>{reasons}</ul></section>"
        f"<section><h2>{e(L('h_notes'))}</h2><ul>{notes or '<li>' + e(L('none')) + '</li>'}</ul>"
        "</section></body></html>\n"
    )
