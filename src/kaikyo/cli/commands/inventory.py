"""``kaikyo inventory discover``: read servers' power from their BMCs over Redfish.

Rows come out in the fleet schema (``--csv`` writes a file ``kaikyo plan --fleet`` reads once
storage and residency are filled in). A BMC that cannot be read still yields a row, at the rated
watts, and the command exits INCOMPLETE (3) so scripts notice.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from kaikyo.cli import exitcodes
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, err_console, out_console, print_table, write_whole
from kaikyo.errors import ConfigError, UsageError
from kaikyo.inventory import InventoryRow, discover
from kaikyo.plan.defaults import SERVER_WATTS_AVG, SERVER_WATTS_PEAK
from kaikyo.plan.fleet import format_for
from kaikyo.units import parse_duration

COLUMNS = [
    "id",
    "group",
    "site",
    "watts_avg",
    "watts_peak",
    "storage_gb",
    "change_gb_per_day",
    "tier",
    "max_rtt_ms",
    "residency",
    "power_source",
    "bmc",
    "model",
    "serial",
    "note",
]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "inventory",
        help="build a fleet inventory from live servers",
        description="Build the planner's fleet inventory from the servers themselves: "
        "'discover' asks each server's BMC over DMTF Redfish for the power its chassis draw.",
        epilog="""examples:
  kaikyo inventory discover --redfish https://10.0.0.5 https://10.0.0.6 --user admin \\
      --csv fleet.csv""",
    )
    sub = p.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    d = sub.add_parser(
        "discover",
        help="read power from BMCs over DMTF Redfish",
        description="Read the power of every chassis behind each BMC over Redfish and print "
        "one fleet row per chassis; a BMC that is unreachable, refuses the credentials or "
        "gives no reading gets a row with the --rated-watts fallback, and a warning. The "
        "rows are in the planner's --fleet schema.",
        epilog="""examples:
  kaikyo inventory discover --redfish https://10.0.0.5 --user admin --json
  KAIKYO_BMC_PASSWORD=... kaikyo inventory discover --redfish https://bmc1 https://bmc2 \\
      --user admin --timeout 3s --csv fleet.csv""",
    )
    d.add_argument(
        "--redfish",
        nargs="+",
        default=[],
        metavar="URL",
        help="BMC base URLs, e.g. https://10.0.0.5",
    )
    d.add_argument(
        "--hosts",
        metavar="FILE",
        help="a file of BMC base URLs, one a line ('#' starts a comment); with --redfish, both",
    )
    d.add_argument(
        "--user", metavar="USER", help="BMC user, HTTP basic auth (or env KAIKYO_BMC_USER)"
    )
    d.add_argument(
        "--password",
        metavar="PASSWORD",
        help="refused: a password on the command line is visible to every user of the "
        "machine (use KAIKYO_BMC_PASSWORD or --password-file)",
    )
    d.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the BMC password from FILE (or env KAIKYO_BMC_PASSWORD; never on the "
        "command line, where every user of the machine sees it)",
    )
    d.add_argument(
        "--rated-watts",
        default=f"{SERVER_WATTS_AVG:g}/{SERVER_WATTS_PEAK:g}",
        metavar="AVG/PEAK",
        help="fallback when a BMC gives no reading (default: 2011 two-socket server, 220/365 W)",
    )
    d.add_argument(
        "--timeout",
        default="10s",
        metavar="DURATION",
        help="time allowed per BMC request, e.g. 3s (default 10s)",
    )
    d.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help="BMCs asked at once (default 8)",
    )
    d.add_argument(
        "--sample",
        metavar="DURATION",
        help="read each chassis' power repeatedly for DURATION (e.g. 10min) and derive its "
        "average and peak; without it a BMC that keeps no average gives one spot reading",
    )
    d.add_argument(
        "--interval",
        default="10s",
        metavar="DURATION",
        help="with --sample: time between readings (default 10s)",
    )
    d.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    d.add_argument("--csv", metavar="FILE", help="write the rows as a fleet CSV")
    d.set_defaults(func=run)
    m = sub.add_parser(
        "merge",
        help="merge discovered watts into the planner's fleet",
        description="Match each row 'discover' wrote to one fleet row (by id, then serial "
        "number, then BMC address when exactly one fleet row has it) and take its watts when "
        "they are better evidence: the BMC's own average (measured) or repeated readings "
        "(sampled) over one spot reading, any over rated figures. Storage, residency and "
        "groups stay the fleet's. The merged fleet is written whole to --out, in the fleet's "
        "format; rows discovered but not in the fleet are listed, not added (they lack "
        "storage and residency).",
        epilog="""examples:
  kaikyo inventory discover --hosts bmcs.txt --sample 10min --csv discovered.csv
  kaikyo inventory merge --fleet fleet.csv --discovered discovered.csv --out fleet-live.csv
  kaikyo plan --fleet fleet-live.csv --site site.yaml --start 2011-05-01 --deadline 2011-07-01""",
    )
    m.add_argument("--fleet", required=True, metavar="FILE",
                   help="the planner's fleet (.csv, .yaml or .json)")  # fmt: skip
    m.add_argument("--discovered", required=True, metavar="FILE",
                   help="what 'inventory discover' wrote (--csv FILE, or its --json)")  # fmt: skip
    m.add_argument("--out", required=True, metavar="FILE",
                   help="the merged fleet (same format as --fleet), written whole")  # fmt: skip
    m.add_argument("--json", action="store_true", help="print what was merged as JSON")
    m.set_defaults(func=run_merge)


def _rated(text: str) -> tuple[float, float]:
    try:
        avg, peak = (float(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--rated-watts {text!r}: expected AVG/PEAK, e.g. 220/365") from None
    if not 0 < avg <= peak:
        raise UsageError(f"--rated-watts {text!r}: need 0 < AVG <= PEAK")
    return avg, peak


def _password(args: argparse.Namespace, ctx: CliContext) -> str | None:
    """From ``--password-file`` or ``KAIKYO_BMC_PASSWORD``; never from the command line."""
    if args.password is not None:
        raise UsageError(
            "--password: a password on the command line is visible to every user of this "
            "machine; use env KAIKYO_BMC_PASSWORD or --password-file FILE"
        )
    if args.password_file:
        try:
            text = Path(args.password_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--password-file {args.password_file}: cannot read: {exc}") from None
        return text.rstrip("\r\n")
    return ctx.env.get("KAIKYO_BMC_PASSWORD") or None


def _urls(args: argparse.Namespace) -> list[str]:
    urls = list(args.redfish)
    if args.hosts:
        try:
            text = Path(args.hosts).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--hosts {args.hosts}: cannot read: {exc}") from None
        for n, line in enumerate(text.splitlines(), 1):
            url = line.split("#", 1)[0].strip()
            if url and not url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"--hosts {args.hosts} line {n}: {url!r} is no http:// or https:// URL"
                )
            if url:
                urls.append(url)
    if not urls:
        raise UsageError("inventory discover: give --redfish URL ... or --hosts FILE")
    for url in args.redfish:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--redfish {url!r}: expected an http:// or https:// URL")
    return urls


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    rated = _rated(args.rated_watts)
    password = _password(args, ctx)
    user = args.user or ctx.env.get("KAIKYO_BMC_USER") or None
    timeout = parse_duration(args.timeout, "--timeout")
    sample = parse_duration(args.sample, "--sample") if args.sample else 0.0
    interval = parse_duration(args.interval, "--interval")
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.sample and not 0 < interval <= sample:
        raise UsageError("--interval must be above 0 and at most --sample")
    urls = _urls(args)
    from concurrent.futures import ThreadPoolExecutor

    # Each BMC is slow I/O (a request can take seconds); a bounded pool asks several at once
    # and keeps the hosts' order in the output.
    with ThreadPoolExecutor(max_workers=min(args.concurrency, len(urls))) as pool:
        found = pool.map(
            lambda url: discover(
                url, user, password, rated, timeout_s=timeout, sample_s=sample, interval_s=interval
            ),
            urls,
        )
        rows: list[InventoryRow] = [row for batch in found for row in batch]
    fallbacks = [r for r in rows if r.power_source == "rated"]
    warn = err_console(ctx)
    for r in rows:
        if r.power_source in ("rated", "spot"):
            warn.print(f"kaikyo: warning: {r.bmc}: {r.id}: {r.note}", markup=False)
    if args.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(r.as_fleet_row() for r in rows)
        write_whole(Path(args.csv), buf.getvalue().encode("utf-8"))
    if args.json:
        emit_json(ctx, [{**r.as_fleet_row(), "watts_min": r.watts_min} for r in rows])
    else:
        print_table(
            ctx,
            ["id", "model", "avg W", "peak W", "source", "BMC"],
            [
                [r.id, r.model, f"{r.watts_avg:g}", f"{r.watts_peak:g}", r.power_source, r.bmc]
                for r in rows
            ],  # fmt: skip
            title="Redfish inventory",
            right=frozenset({"avg W", "peak W"}),
        )
    return exitcodes.INCOMPLETE if fallbacks else exitcodes.OK


def _read_rows(kind: str, name: str) -> tuple[list[dict[str, Any]], list[str]]:
    from kaikyo.plan.fleet import fleet_rows

    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{kind} {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{kind} {name}: not UTF-8 text") from None
    rows, _ = fleet_rows(text, format_for(name))
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c is not None and c not in columns]
    return [dict(r) for r in rows], columns


def run_merge(args: argparse.Namespace, ctx: CliContext) -> int:
    from kaikyo.inventory.merge import merge
    from kaikyo.plan.fleet import parse_fleet

    fmt = format_for(args.fleet)
    if format_for(args.out) != fmt:
        raise UsageError(f"--out {args.out}: give it the format of --fleet ({fmt})")
    fleet, columns = _read_rows("fleet", args.fleet)
    discovered, _ = _read_rows("discovered", args.discovered)
    result = merge(fleet, discovered, columns)
    text = _fleet_text(result.rows, result.columns, fmt)
    parse_fleet(text, fmt)  # the merged fleet must plan: refuse to write one that cannot
    write_whole(Path(args.out), text.encode("utf-8"))
    warn = err_console(ctx)
    for row in result.unmatched:
        warn.print(
            f"kaikyo: warning: discovered {row.get('id')!r} (BMC {row.get('bmc') or '?'}) "
            "matches no fleet row by id, serial or BMC: add it to the fleet with its storage "
            "and residency",
            markup=False,
        )
    for row_id, ids in result.ambiguous:
        warn.print(
            f"kaikyo: warning: discovered {row_id!r} matches more than one fleet row "
            f"({', '.join(ids)}): give them serial numbers",
            markup=False,
        )
    sources: dict[str, int] = {}
    for source in result.replaced.values():
        sources[source] = sources.get(source, 0) + 1
    doc = {
        "fleet_rows": len(result.rows),
        "discovered_rows": len(discovered),
        "replaced": len(result.replaced),
        "by_source": sources,
        "kept": [{"id": k, "why": v} for k, v in result.kept.items()],
        "unmatched": [str(r.get("id")) for r in result.unmatched],
        "ambiguous": [{"id": i, "fleet_ids": ids} for i, ids in result.ambiguous],
        "out": args.out,
    }
    if args.json:
        emit_json(ctx, doc)
    else:
        by = ", ".join(f"{n} {s}" for s, n in sorted(sources.items())) or "none"
        out_console(ctx).print(
            f"{len(result.replaced)} of {len(result.rows)} fleet rows take discovered watts "
            f"({by}); {len(result.kept)} kept theirs; {len(result.unmatched)} discovered rows "
            f"are not in the fleet. Written to {args.out}.",
            markup=False,
        )
    incomplete = result.unmatched or result.ambiguous
    return exitcodes.INCOMPLETE if incomplete else exitcodes.OK


def _fleet_text(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> str:
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: ("" if r.get(c) is None else r.get(c)) for c in columns} for r in rows)
        return buf.getvalue()
    clean = [{k: v for k, v in r.items() if v not in (None, "")} for r in rows]
    if fmt == "json":
        return json.dumps(clean, ensure_ascii=False, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(clean, allow_unicode=True, sort_keys=False)
