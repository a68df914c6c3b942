"""``kaikyo inventory discover``: read servers' power from their BMCs over Redfish.

Rows come out in the fleet schema (``--csv`` writes a file ``kaikyo plan --fleet`` reads once
storage and residency are filled in). A BMC that cannot be read still yields a row, at the rated
watts, and the command exits INCOMPLETE (3) so scripts notice.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any

from kaikyo.cli import config, exitcodes
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, err_console, print_table
from kaikyo.errors import UsageError
from kaikyo.inventory import InventoryRow, discover
from kaikyo.plan.defaults import SERVER_WATTS_AVG, SERVER_WATTS_PEAK
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
        required=True,
        metavar="URL",
        help="BMC base URLs, e.g. https://10.0.0.5",
    )
    d.add_argument("--user", metavar="USER", help="BMC user (HTTP basic auth)")
    d.add_argument(
        "--password",
        metavar="PASSWORD",
        help="BMC password (better: env KAIKYO_BMC_PASSWORD, not seen in the process list)",
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
    d.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    d.add_argument("--csv", metavar="FILE", help="write the rows as a fleet CSV")
    d.set_defaults(func=run)


def _rated(text: str) -> tuple[float, float]:
    try:
        avg, peak = (float(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--rated-watts {text!r}: expected AVG/PEAK, e.g. 220/365") from None
    if not 0 < avg <= peak:
        raise UsageError(f"--rated-watts {text!r}: need 0 < AVG <= PEAK")
    return avg, peak


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    rated = _rated(args.rated_watts)
    password = config.bmc_password(args, ctx)
    timeout = parse_duration(args.timeout, "--timeout")
    rows: list[InventoryRow] = []
    for url in args.redfish:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--redfish {url!r}: expected an http:// or https:// URL")
        rows += discover(url, args.user, password, rated, timeout_s=timeout)
    fallbacks = [r for r in rows if r.power_source != "measured"]
    warn = err_console(ctx)
    for r in fallbacks:
        warn.print(f"kaikyo: warning: {r.bmc}: {r.note}", markup=False)
    if args.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(r.as_fleet_row() for r in rows)
        Path(args.csv).write_text(buf.getvalue(), encoding="utf-8")
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
