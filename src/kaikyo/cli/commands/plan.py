"""``kaikyo plan``: which servers move to the haven, in which waves, to meet a power target.

The command only reads files, calls the pure planner and renders; all modelling lives in
kaikyo.plan. An infeasible target still prints the best plan and exits with PLAN_INFEASIBLE.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import zoneinfo
from pathlib import Path
from typing import Any

from kaikyo.cli import exitcodes
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, out_console, print_table
from kaikyo.errors import ConfigError, UsageError
from kaikyo.plan import (
    Objective,
    Plan,
    PlanRequest,
    Server,
    Site,
    Target,
    Weights,
    format_for,
    load_site,
    make_plan,
    parse_fleet,
    plan_json,
    verify_plan,
)
from kaikyo.plan.words import board_lines
from kaikyo.units import parse_duration

_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|kw)\s*$", re.IGNORECASE)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan",
        help="plan which servers move to the haven to cut peak power",
        description="Choose the servers and waves that cut the primary's peak demand by the "
        "target by the deadline, at least cost; explain what binds or blocks. Exit 2: the "
        "target cannot be met (the best plan is still printed). See docs/PLANNER.md.",
        epilog="""examples:
  kaikyo plan --fleet fleet.csv --site site.yaml --start 2011-05-01 --deadline 2011-07-01
  kaikyo plan --fleet fleet.csv --site site.yaml --target 300kW --start 2011-05-01 \\
      --deadline 2011-07-01 --objective weighted --chart plan.html --json""",
    )
    p.add_argument(
        "--fleet", required=True, metavar="FILE", help="fleet inventory (.csv, .yaml or .json)"
    )
    p.add_argument("--site", required=True, metavar="FILE", help="site facts (.yaml)")
    p.add_argument(
        "--target",
        default="15%",
        metavar="REDUCTION",
        help="reduction: '15%%' of baseline or '300kW' (default 15%%)",
    )
    p.add_argument(
        "--start", required=True, metavar="DATE", help="first day of the migration (YYYY-MM-DD)"
    )
    p.add_argument(
        "--deadline",
        required=True,
        metavar="DATE",
        help="day the reduction must be in place (YYYY-MM-DD)",
    )
    p.add_argument(
        "--objective",
        choices=[o.value for o in Objective],
        default="bytes",
        help="what to minimise once the target is met (default: bytes)",
    )
    p.add_argument(
        "--wave-days", type=int, default=7, metavar="N", help="days per wave (default 7)"
    )
    p.add_argument(
        "--servers-per-wave",
        type=int,
        default=None,
        metavar="N",
        help="concurrent cut-overs allowed per wave (default: no limit)",
    )
    p.add_argument(
        "--weight-tb",
        type=float,
        default=1.0,
        metavar="COST",
        help="weighted: cost per TB sent (default 1)",
    )
    p.add_argument(
        "--weight-downtime",
        type=float,
        default=1.0,
        metavar="COST",
        help="weighted: cost per server-hour of downtime (tier 1 x3, tier 2 x2; default 1)",
    )
    p.add_argument(
        "--time-limit",
        default="60s",
        metavar="DURATION",
        help="solver time limit, e.g. 90s or 5min (default 60s)",
    )
    p.add_argument(
        "--margin",
        default="0",
        metavar="PCT",
        help="plan for the target plus PCT%% of it, a safety margin (default 0)",
    )
    p.add_argument(
        "--rated-spread",
        default="20",
        metavar="PCT",
        help="servers on rated (not measured) watts may draw PCT%% less or more: the "
        "reduction is reported as that range (default 20)",
    )
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    p.add_argument("--csv", metavar="FILE", help="write the moves as CSV")
    p.add_argument(
        "--chart",
        metavar="FILE",
        action="append",
        default=[],
        help="write a chart: FILE.png or FILE.html (repeatable)",
    )
    p.set_defaults(func=run)


def parse_target(text: str) -> Target:
    m = _TARGET.match(text)
    if not m:
        raise UsageError(f"--target {text!r}: expected a percentage like 15% or power like 300kW")
    value = float(m.group(1))
    if m.group(2) == "%":
        if not 0 < value <= 100:
            raise UsageError(f"--target {text!r}: a percentage is in (0, 100]")
        return Target(pct=value)
    return Target(kw=value)


def _date(flag: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected a date YYYY-MM-DD") from None


def _read(kind: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{kind} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{kind} {path}: not UTF-8 text") from None


def request_from(args: argparse.Namespace) -> PlanRequest:
    if args.servers_per_wave is not None and args.servers_per_wave < 1:
        raise UsageError("--servers-per-wave must be at least 1")
    for chart in args.chart:
        if not chart.lower().endswith((".png", ".html")):
            raise UsageError(f"--chart {chart}: the name must end in .png or .html")
    return PlanRequest(
        target=parse_target(args.target),
        start=_date("--start", args.start),
        deadline=_date("--deadline", args.deadline),
        objective=Objective(args.objective),
        wave_days=args.wave_days,
        servers_per_wave=args.servers_per_wave,
        weights=Weights(per_tb=args.weight_tb, per_downtime_hour=args.weight_downtime),
        time_limit_s=parse_duration(args.time_limit, "--time-limit"),
        margin_pct=_percent("--margin", args.margin),
        rated_spread_pct=_percent("--rated-spread", args.rated_spread),
    )


def _percent(flag: str, text: str) -> float:
    """``5``, ``5%`` or ``2.5``: a share in [0, 100]."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected a percentage such as 5 or 5%") from None
    if not 0 <= value <= 100:
        raise UsageError(f"{flag} {text!r}: a percentage is between 0 and 100")
    return value


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    request = request_from(args)
    servers = parse_fleet(_read("fleet", args.fleet), format_for(args.fleet))
    it_peak_kw = 0.0  # completes the baseline only when the site gives non_it_kw
    site = load_site(_read("site", args.site), it_peak_kw)
    if site.baseline_peak_kw == 0.0:
        raise ConfigError("site: the baseline is 0 kW")
    plan = make_plan(servers, site, request)
    problems = verify_plan(plan, servers, site, request)
    if problems:  # a modelling bug, not a user error: show it loudly
        raise RuntimeError("plan failed its own check: " + "; ".join(problems[:5]))
    if args.csv:
        _write_csv(Path(args.csv), plan, servers, site)
    if args.chart:
        from kaikyo.plan.chart import render_html, render_png  # matplotlib is slow to import

        for chart in args.chart:
            path = Path(chart)
            if path.suffix.lower() == ".png":
                path.write_bytes(render_png(plan))
            else:
                path.write_text(render_html(plan), encoding="utf-8")
    if args.json:
        emit_json(ctx, plan_json(plan))
    else:
        _render(ctx, plan)
    return exitcodes.OK if plan.feasible else exitcodes.PLAN_INFEASIBLE


def _write_csv(path: Path, plan: Plan, servers: tuple[Server, ...], site: Site) -> None:
    """One row per moved server; ``net_*``: its share of the net over the restriction
    period (haven less primary: negative is less)."""
    from kaikyo.plan.report import server_net

    by_id = {s.id: s for s in servers}
    zone = zoneinfo.ZoneInfo(plan.timezone)
    cutover = {w.index: w.cutover.replace(tzinfo=zone) for w in plan.waves}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["server", "group", "wave", "cutover", "cutover_end", "storage_gb", "watts_peak",
         "power_source", "net_kwh", f"net_{plan.savings.currency.lower()}", "net_co2_kg", "role"]
    )  # fmt: skip
    ends = {w.index: w.cutover_end.replace(tzinfo=zone) for w in plan.waves}
    for m in plan.moves:
        s = by_id[m.server]
        kwh, cost, co2 = server_net(s, site, plan.savings)
        writer.writerow(
            [
                m.server,
                m.group,
                m.wave,
                cutover[m.wave].isoformat(timespec="minutes"),
                ends[m.wave].isoformat(timespec="minutes"),
                s.storage_gb,
                s.watts_peak,
                s.power_source,
                round(kwh, 1),
                round(cost),
                round(co2, 1),
                s.role,
            ]
        )
    path.write_text(buf.getvalue(), encoding="utf-8")


def _span(begin: dt.datetime, end: dt.datetime) -> str:
    """``06-04 Sat 20:00-Sun 10:00``: the day of the end only when it differs."""
    last = f"{end:%a %H:%M}" if end.date() != begin.date() else f"{end:%H:%M}"
    return f"{begin:%m-%d %a %H:%M}-{last}"


def _render(ctx: CliContext, plan: Plan) -> None:
    console = out_console(ctx)
    console.width = max(console.width, 110)  # the wave table needs ~100 columns
    zone = zoneinfo.ZoneInfo(plan.timezone)
    abbrev = dt.datetime.combine(plan.deadline, dt.time(), zone).tzname() or plan.timezone
    headers = ["wave", f"cut-over ({abbrev})", "grp", "srv", "TB sent", "seeding", "seed h",
               "down h", "kW off", "cum kW"]  # fmt: skip
    rows = []
    for w in plan.waves:
        if not w.servers:
            continue
        seed = f"{w.seed_start:%m-%d}>{w.seed_end:%m-%d}" if w.seed_start and w.seed_end else ""
        rows.append(
            [
                str(w.index),
                _span(w.cutover, w.cutover_end),
                str(len(w.groups)),
                str(w.servers),
                f"{w.send_gb / 1000:,.1f}",
                seed,
                f"{w.seed_hours:.1f}",
                f"{w.downtime_hours:.1f}",
                f"{w.kw_removed:.1f}",
                f"{w.cumulative_kw:.1f}",
            ]
        )
    print_table(
        ctx,
        headers,
        rows,
        title=f"Evacuation waves ({plan.start} to {plan.deadline})",
        right=frozenset(headers) - {headers[1], "seeding"},
    )
    s = plan.savings
    verdict = "meets" if plan.feasible else "CANNOT meet"
    target_pct = 100 * plan.target_kw / plan.baseline_peak_kw
    console.print(
        f"Plan {verdict} the target: {plan.target_kw:.1f} kW ({target_pct:.1f}% "
        f"of {plan.baseline_peak_kw:g} kW); removes {plan.reduction_kw:.1f} kW "
        f"({plan.reduction_pct:.1f}%), peak {plan.baseline_peak_kw - plan.reduction_kw:.1f} kW "
        f"vs cap {plan.cap_kw:.1f} kW."
    )
    for line in board_lines(plan):
        console.print(line, markup=False)
    console.print(
        f"{len(plan.moves)} servers, {plan.storage_gb_moved:,.0f} GB leave the earthquake zone "
        f"({plan.send_gb:,.0f} GB on the wire); objective {plan.objective} = "
        f"{plan.objective_value:,.1f} ({plan.status}, {plan.method}, gap {plan.mip_gap:.1e})."
    )
    console.print(
        f"{s.period_start} to {s.period_end}: primary -{s.kwh_saved_primary:,.0f} kWh "
        f"(-{s.cost_saved:,.0f} {s.currency}, -{s.co2_saved_kg / 1000:,.1f} t CO2); haven "
        f"+{s.kw_added_haven:.1f} kW, +{s.kwh_added_haven:,.0f} kWh (+{s.cost_added:,.0f} "
        f"{s.currency}, +{s.co2_added_kg / 1000:,.1f} t CO2)."
    )
    for title, lines in (
        ("Binding", plan.binding),
        ("Blocking", plan.blockers),
        ("Notes", plan.notes),
    ):
        if lines:
            console.print(f"{title}:")
            for line in lines:
                console.print(f"  - {line}", markup=False)
