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
from kaikyo.cli.output import emit_json, err_console, out_console, print_table, write_whole
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


_REQUIRED = ("--fleet", "--site", "--start", "--deadline")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan",
        help="plan which servers move to the haven to cut peak power",
        description="Choose the servers and waves that cut the primary's peak demand by the "
        "target by the deadline, at least cost; explain what binds or blocks. Exit 2: the "
        "target cannot be met (the best plan is still printed). 'plan compare' runs "
        "scenarios side by side. See docs/PLANNER.md.",
        epilog="""examples:
  kaikyo plan --fleet fleet.csv --site site.yaml --start 2011-05-01 --deadline 2011-07-01
  kaikyo plan --fleet fleet.csv --site site.yaml --target 300kW --start 2011-05-01 \\
      --deadline 2011-07-01 --objective weighted --margin 5% --chart plan.html --json
  kaikyo plan compare --fleet fleet.csv --site site.yaml --start 2011-05-01 \\
      --deadline 2011-07-01 --targets 15%,20%,25% --link-mbps 1000,2000""",
    )
    _add_inputs(p)
    _add_tuning(p)
    p.add_argument("--target", default="15%", metavar="REDUCTION",
                   help="reduction: '15%%' of baseline or '300kW' (default 15%%)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    p.add_argument("--csv", metavar="FILE", help="write the moves as CSV")
    p.add_argument(
        "--xlsx",
        metavar="FILE",
        help="write the workbook for the board: summary, waves (go/no-go, rollback, owners), "
        "servers per wave, assumptions",
    )
    p.add_argument(
        "--chart",
        metavar="FILE",
        action="append",
        default=[],
        help="write a chart: FILE.png or FILE.html (repeatable)",
    )
    p.add_argument(
        "--lang",
        choices=("en", "ja"),
        default="en",
        help="language of the chart and the HTML report (ja needs a Japanese font, e.g. "
        "Debian's fonts-ipafont-gothic; default en)",
    )
    p.set_defaults(func=run)
    sub = p.add_subparsers(dest="plan_command", metavar="ACTION", required=False)
    c = sub.add_parser(
        "compare",
        help="run several targets, link speeds and dedup ratios side by side",
        description="Plan every combination of --targets, --link-mbps and --dedup (each a "
        "comma-separated list; the site's value when omitted) and print them side by side, "
        "with what each extra percent of reduction costs within a link and dedup ratio: TB "
        "over the link, servers moved, the net cost. Exit 2 when no scenario meets its "
        "target. Flags go after 'compare'.",
        epilog="""examples:
  kaikyo plan compare --fleet fleet.csv --site site.yaml --start 2011-05-01 \\
      --deadline 2011-07-01 --targets 15%,20%,25% --link-mbps 1000,2000 --dedup 0.4,0.6,0.8
  kaikyo plan compare --fleet fleet.csv --site site.yaml --start 2011-05-01 \\
      --deadline 2011-07-01 --targets 10%,15% --json""",
    )
    _add_inputs(c)
    _add_tuning(c)
    c.add_argument("--targets", default="15%", metavar="LIST",
                   help="reductions to compare, e.g. 15%%,20%%,25%% or 100kW,150kW "
                   "(default 15%%)")  # fmt: skip
    c.add_argument("--link-mbps", metavar="LIST",
                   help="link speeds in Mbit/s, e.g. 1000,2000 (default: the site's)")  # fmt: skip
    c.add_argument("--dedup", metavar="LIST",
                   help="dedup ratios (stored bytes per source byte), e.g. 0.4,0.6,0.8 "
                   "(default: the site's)")  # fmt: skip
    c.add_argument("--json", action="store_true", help="print the scenarios as one JSON object")
    c.set_defaults(func=run_compare)


def _add_inputs(p: argparse.ArgumentParser) -> None:
    """The files and dates every plan needs. Not argparse-required: ``plan compare``'s
    flags come after the word, so the parent parser would miss them (checked in run)."""
    p.add_argument("--fleet", metavar="FILE",
                   help="fleet inventory (.csv, .yaml or .json; required)")  # fmt: skip
    p.add_argument("--site", metavar="FILE", help="site facts (.yaml; required)")
    p.add_argument("--start", metavar="DATE",
                   help="first day of the migration (YYYY-MM-DD; required)")  # fmt: skip
    p.add_argument("--deadline", metavar="DATE",
                   help="day the reduction must be in place (YYYY-MM-DD; required)")  # fmt: skip


def _add_tuning(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--objective",
        choices=[o.value for o in Objective],
        default="bytes",
        help="what to minimise once the target is met (default: bytes)",
    )
    p.add_argument(
        "--wave-days", type=int, default=7, metavar="N",
        help="days at least between two cut-overs (default 7)",
    )  # fmt: skip
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
    missing = [f for f in _REQUIRED if getattr(args, f[2:].replace("-", "_")) is None]
    if missing:
        where = "plan compare" if getattr(args, "plan_command", None) else "plan"
        raise UsageError(
            f"kaikyo {where}: the following arguments are required: {', '.join(missing)}"
        )
    if args.servers_per_wave is not None and args.servers_per_wave < 1:
        raise UsageError("--servers-per-wave must be at least 1")
    xlsx = getattr(args, "xlsx", None)
    if xlsx and not xlsx.lower().endswith(".xlsx"):
        raise UsageError(f"--xlsx {xlsx}: the name must end in .xlsx")
    for chart in getattr(args, "chart", []):
        if not chart.lower().endswith((".png", ".html")):
            raise UsageError(f"--chart {chart}: the name must end in .png or .html")
    return PlanRequest(
        target=parse_target(getattr(args, "target", "15%")),
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


def _inputs(args: argparse.Namespace) -> tuple[PlanRequest, tuple[Server, ...], Site]:
    request = request_from(args)
    servers = parse_fleet(_read("fleet", args.fleet), format_for(args.fleet))
    it_peak_kw = 0.0  # completes the baseline only when the site gives non_it_kw
    site = load_site(_read("site", args.site), it_peak_kw)
    if site.baseline_peak_kw == 0.0:
        raise ConfigError("site: the baseline is 0 kW")
    return request, servers, site


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    request, servers, site = _inputs(args)
    plan = make_plan(servers, site, request)
    problems = verify_plan(plan, servers, site, request)
    if problems:  # a modelling bug, not a user error: show it loudly
        raise RuntimeError("plan failed its own check: " + "; ".join(problems[:5]))
    if args.csv:
        _write_csv(Path(args.csv), plan, servers, site)
    if args.xlsx:
        from kaikyo.plan.workbook import workbook_bytes

        write_whole(Path(args.xlsx), workbook_bytes(plan, servers, site, request))
    if args.chart:
        # matplotlib is slow to import: only when a chart is asked for
        from kaikyo.plan.chart import cjk_font_missing, render_html, render_png

        if args.lang == "ja" and cjk_font_missing():
            err_console(ctx).print(
                "kaikyo: warning: no Japanese font is installed: the chart's labels will be "
                "boxes (Debian: apt-get install fonts-ipafont-gothic)",
                markup=False,
            )
        for chart in getattr(args, "chart", []):
            path = Path(chart)
            if path.suffix.lower() == ".png":
                write_whole(path, render_png(plan, args.lang))
            else:
                write_whole(path, render_html(plan, args.lang).encode("utf-8"))
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
    write_whole(path, buf.getvalue().encode("utf-8"))


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
    for w in plan.waves:
        if w.servers:
            signers = sorted({o.sign_off for o in w.owners if o.sign_off})
            console.print(
                f"Wave {w.index}: go/no-go {w.go_no_go:%a %m-%d %H:%M}, roll back by "
                f"{w.rollback_by:%a %m-%d %H:%M} {abbrev}"
                + (f"; sign-off {', '.join(signers)}" if signers else ""),
                markup=False,
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


def _list(flag: str, text: str | None, parse: Any) -> list[Any] | None:
    if text is None:
        return None
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise UsageError(f"{flag} {text!r}: expected a comma-separated list")
    return [parse(item) for item in items]


def _positive(flag: str) -> Any:
    def parse(item: str) -> float:
        try:
            value = float(item)
        except ValueError:
            raise UsageError(f"{flag}: {item!r} is not a number") from None
        if not 0 < value < float("inf"):
            raise UsageError(f"{flag}: {item!r} must be above 0")
        return value

    return parse


def run_compare(args: argparse.Namespace, ctx: CliContext) -> int:
    from kaikyo.plan.compare import compare

    targets = _list("--targets", args.targets, parse_target) or []
    links = _list("--link-mbps", args.link_mbps, _positive("--link-mbps"))
    dedups = _list("--dedup", args.dedup, _positive("--dedup"))
    if len(targets) * len(links or [0]) * len(dedups or [0]) > 60:
        raise UsageError("plan compare: at most 60 scenarios at once; give shorter lists")
    request, servers, site = _inputs(args)
    scenarios = compare(
        servers, site, request, targets, links or [site.link_mbps], dedups or [site.dedup_ratio]
    )
    if args.json:
        emit_json(ctx, {"scenarios": [_scenario_json(s) for s in scenarios]})
    else:
        _render_compare(ctx, scenarios)
    feasible = any(s.plan.feasible for s in scenarios)
    return exitcodes.OK if feasible else exitcodes.PLAN_INFEASIBLE


def _scenario_json(s: Any) -> dict[str, Any]:
    p = s.plan
    doc = plan_json(p)
    last = s.last_cutover
    zone = zoneinfo.ZoneInfo(p.timezone)
    return {
        "target": str(s.target),
        "target_kw": doc["target_kw"],
        "link_mbps": s.link_mbps,
        "dedup_ratio": s.dedup_ratio,
        "feasible": p.feasible,
        "reduction_kw": doc["reduction_kw"],
        "reduction_pct": doc["reduction_pct"],
        "reduction_range_kw": doc["reduction_range_kw"],
        "servers_moved": len(p.moves),
        "send_tb": round(p.send_gb / 1000.0, 3),
        "waves": sum(1 for w in p.waves if w.servers),
        "last_cutover": None
        if last is None
        else last.replace(tzinfo=zone).isoformat(timespec="minutes"),
        "net": doc["net"],
        "payback_months": None if p.project is None else doc["project"]["payback_months"],
        "extra_per_pct": None
        if s.extra_tb_per_pct is None
        else {
            "send_tb": round(s.extra_tb_per_pct, 3),
            "servers": round(s.extra_servers_per_pct, 2),
            "net_cost": round(s.extra_net_cost_per_pct),
        },
        "blockers": doc["blockers"],
    }


def _render_compare(ctx: CliContext, scenarios: list[Any]) -> None:
    currency = scenarios[0].plan.savings.currency if scenarios else ""
    headers = ["target", "link Mbit/s", "dedup", "meets", "kW off", "servers", "TB sent",
               "last cut-over", f"net {currency}", "net t CO2", "+TB/%", "+srv/%",
               f"+{currency}/%"]  # fmt: skip
    rows = []
    for s in scenarios:
        p, last = s.plan, s.last_cutover
        extra = (
            ["", "", ""]
            if s.extra_tb_per_pct is None
            else [
                f"{s.extra_tb_per_pct:,.1f}",
                f"{s.extra_servers_per_pct:,.1f}",
                f"{s.extra_net_cost_per_pct:+,.0f}",
            ]
        )
        rows.append(
            [
                str(s.target),
                f"{s.link_mbps:g}",
                f"{s.dedup_ratio:g}",
                "yes" if p.feasible else "NO",
                f"{p.reduction_kw:.1f}",
                str(len(p.moves)),
                f"{p.send_gb / 1000:,.1f}",
                "" if last is None else f"{last:%m-%d %a %H:%M}",
                f"{p.savings.net_cost:+,.0f}",
                f"{p.savings.net_co2_kg / 1000:+,.1f}",
                *extra,
            ]
        )
    first = scenarios[0].plan if scenarios else None
    title = "Scenarios" if first is None else f"Scenarios ({first.start} to {first.deadline})"
    print_table(ctx, headers, rows, title=title, right=frozenset(headers[1:3] + headers[4:]))
    out = out_console(ctx)
    out.print(
        "+TB/%, +srv/%, +cost/%: what each extra percent of reduction costs against the "
        "target before it, at the same link and dedup ratio.",
        markup=False,
    )
    for s in scenarios:
        if not s.plan.feasible and s.plan.blockers:
            out.print(
                f"{s.target} at {s.link_mbps:g} Mbit/s, dedup {s.dedup_ratio:g}: "
                f"{s.plan.blockers[0]}",
                markup=False,
            )
