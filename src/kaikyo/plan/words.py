"""A plan's headline figures in words, for the terminal, the HTML report and the chart.

A board reads sentences, not keys: what the margin buys, how far the reduction may be off
while part of it rests on rated watts, and what primary and haven together cost and emit,
with an unfavourable figure named as such.
"""

from __future__ import annotations

from kaikyo.plan.labels import label
from kaikyo.plan.result import Plan


def verdict(plan: Plan, lang: str = "en") -> str:
    """One headline: does the plan meet the target, by what date, with what net effect."""
    s = plan.savings
    head = label(
        lang,
        "verdict_meets" if plan.feasible else "verdict_fails",
        target=plan.target_kw,
        deadline=plan.deadline,
    )
    tail = label(
        lang,
        "verdict_tail",
        reduction=plan.reduction_kw,
        pct=plan.reduction_pct,
        cost=s.net_cost,
        currency=s.currency,
        co2=s.net_co2_kg / 1000,
        end=s.period_end,
    )
    return f"{head}\n{tail}" if lang == "ja" else f"{head} {tail}"


def board_lines(plan: Plan) -> list[str]:
    """The figures a board asks about, in words: the margin, the range the rated watts
    leave, and the net effect of primary and haven together (said plainly when it is
    unfavourable)."""
    lines = []
    if plan.margin_pct:
        lines.append(
            f"Margin: planned for {plan.planned_kw:.1f} kW, the target plus "
            f"{plan.margin_pct:g}%; the plan clears the target by "
            f"{plan.reduction_kw - plan.target_kw:+.1f} kW."
        )
    low, high = plan.reduction_range_kw
    if plan.rated_share_pct:
        verdict = (
            "still meets the target"
            if low >= plan.target_kw
            else f"falls short of the target by {plan.target_kw - low:.1f} kW"
        )
        lines.append(
            f"Range: {low:.1f} to {high:.1f} kW removed if servers on rated watts draw "
            f"{plan.rated_spread_pct:g}% less or more; {plan.rated_share_pct:.0f}% of the "
            f"reduction rests on rated watts (measure them: kaikyo inventory discover); at the "
            f"low end the plan {verdict}."
        )
    else:
        lines.append("Range: every server moved has measured watts; no rated figure in play.")
    s = plan.savings
    worse = "UNFAVOURABLE: the haven's power {} more than the primary saves"
    cost = "a saving" if s.net_cost < 0 else worse.format("costs")
    co2 = "less" if s.net_co2_kg < 0 else worse.format("emits")
    kwh = "less" if s.net_kwh < 0 else "UNFAVOURABLE: the haven's PUE is the higher"
    p = plan.project
    if p is not None:
        pays = (
            f"pays back in {p.payback_months:.1f} months"
            if p.payback_months is not None
            else "NEVER pays back on power alone: the month's saving does not cover the rent"
        )
        lines.append(
            f"Project: {p.one_off:,.0f} {p.currency} one-off, {p.running_per_month:,.0f} a month "
            f"(line and haven rent) against {p.energy_saving_per_month:,.0f} a month of power "
            f"saved; it {pays}."
        )
    lines.append(
        f"Net {s.period_start} to {s.period_end}, primary and haven together: "
        f"{s.net_kwh:+,.0f} kWh ({kwh}); {s.net_cost:+,.0f} {s.currency} ({cost}); "
        f"{s.net_co2_kg / 1000:+,.1f} t CO2 ({co2})."
    )
    return lines
