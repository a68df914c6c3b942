"""``kaikyo haven``: operator checks of a haven data directory (scrub, audit, trash purge).

Also the shared helpers of the operator commands (``serve``, ``tenant``, ``token``): where the
data directory comes from (``--data`` or ``KAIKYO_HAVEN_DATA``), how quotas and expiry dates
are written (sizes and durations themselves: :mod:`kaikyo.units`).
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kaikyo.cli import exitcodes
from kaikyo.cli.config import add_json_arg, armed_crash_point, haven_data_dir
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes
from kaikyo.errors import IntegrityError, PermissionDeniedError, UsageError
from kaikyo.server import Haven, HavenSettings, crashpoints
from kaikyo.server.audit import verify
from kaikyo.server.scrub import scrub
from kaikyo.units import parse_duration, parse_size

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def add_data_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", metavar="DIR", help="the haven's data directory (default: $KAIKYO_HAVEN_DATA)"
    )
    add_json_arg(parser)


def settings_from(args: argparse.Namespace, ctx: CliContext, **extra: Any) -> HavenSettings:
    return HavenSettings(data_dir=Path(haven_data_dir(args, ctx)).absolute(), **extra)


def open_haven(args: argparse.Namespace, ctx: CliContext, *, create: bool = False) -> Haven:
    arm_crash_point(ctx)
    return Haven(settings_from(args, ctx), ctx.clock, create=create)


def arm_crash_point(ctx: CliContext) -> None:
    """Tests only: kill this process at a named step (see kaikyo.server.crashpoints)."""
    crashpoints.ARMED = armed_crash_point(ctx)


def parse_quota(text: str | None, what: str) -> int | None:
    """A quota in bytes (``500G``, ``2TiB``, see :mod:`kaikyo.units`); ``none``,
    ``unlimited`` or ``0``: no quota (None)."""
    if text is None or text.strip().lower() in ("none", "unlimited", "0"):
        return None
    return parse_size(text, what)


def parse_count(text: str | None) -> int | None:
    if text is None or text.lower() in ("none", "unlimited", "0"):
        return None
    if not text.isdigit():
        raise UsageError(f"invalid object count {text!r}", "write a whole number or none")
    return int(text)


def parse_expiry(text: str, now: float) -> float:
    """A duration from now (``30d``, ``6mo``; see :mod:`kaikyo.units`) or an ISO date/time
    (``2026-12-31``, UTC if no zone)."""
    if text.strip()[:1].isdigit() and not _ISO_DATE.match(text.strip()):
        return now + parse_duration(text, "--expires")
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"invalid --expires {text!r}", "write a duration (30d, 6mo, 1y) or a date (2026-12-31)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "haven",
        help="operator checks of a haven data directory",
        description="Checks an operator runs on the haven's data directory, with no tenant's "
        "key: scrub the stored objects, verify the audit log, purge the trash.",
        epilog="""examples:
  kaikyo haven scrub --data /srv/haven
  kaikyo haven audit verify
  kaikyo haven purge --older-than 30d""",
    )
    sub = parser.add_subparsers(dest="haven_command", metavar="ACTION", required=True)
    p = sub.add_parser(
        "scrub",
        help="re-hash stored objects and list corrupt ones (no key needed)",
        description="Read every stored object and check that its bytes hash to its name "
        "(objects are named by their SHA-256); list the ones that do not. Exit 15 if any.",
        epilog="""examples:
  kaikyo haven scrub
  kaikyo haven scrub --tenant acme --json""",
    )
    p.add_argument(
        "--tenant", action="append", metavar="TENANT", help="only this tenant (repeatable)"
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_scrub)
    audit = sub.add_parser(
        "audit",
        help="the hash-chained audit log",
        description="Every mutating or refused request, and every operator command, is a "
        "row of a hash-chained audit log; 'verify' proves it has not been altered.",
        epilog="""examples:
  kaikyo haven audit verify --expect 1234:9f2c...""",
    )
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    p = audit_sub.add_parser(
        "verify",
        help="prove the audit log has not been altered",
        description="Recompute the hash chain and check every entry recorded in the anchor "
        "file (DIR/audit.anchor): removed, wiped or rewritten entries are found. Prints the "
        "head SEQ:HASH; keep it elsewhere and pass it back with --expect to check against it.",
        epilog="""examples:
  kaikyo haven audit verify
  kaikyo haven audit verify --expect 1234:9f2c... --json""",
    )
    p.add_argument(
        "--expect",
        metavar="SEQ:HASH",
        help="a head printed by an earlier verify: that entry must still be there",
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_audit_verify)
    p = sub.add_parser(
        "purge",
        help="purge trashed objects older than the grace period",
        description="Delete for good the trashed objects deleted longer ago than the grace "
        "period (or --older-than); 'kaikyo serve' does this itself every --purge-interval.",
        epilog="""examples:
  kaikyo haven purge
  kaikyo haven purge --older-than 30d --json""",
    )
    p.add_argument(
        "--older-than",
        metavar="DURATION",
        help="purge what was deleted this long ago, a duration such as 30d or 12h (default: "
        "the grace period, 7d)",
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_purge)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    haven = open_haven(args, ctx)
    try:
        return int(args.action(haven, args, ctx))
    finally:
        haven.close()


def _scrub(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    tenants = args.tenant or [t["name"] for t in haven.list_tenants()]
    report = scrub(haven.area, tenants)
    if args.json:
        emit_json(
            ctx,
            {
                "checked": report.checked,
                "unverifiable": report.unverifiable,
                "corrupt": report.corrupt,
            },
        )
    else:
        for label in report.corrupt:
            ctx.stdout.write(f"corrupt: {label}\n")
        ctx.stderr.write(
            f"scrubbed {report.checked} objects "
            f"({report.unverifiable} without a content name), "
            f"{len(report.corrupt)} corrupt\n"
        )
    if not report.ok:
        raise IntegrityError(
            f"{len(report.corrupt)} stored objects do not match their names",
            "restore them from another copy, or re-run the tenant's backup",
        )
    return exitcodes.OK


def _audit_verify(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    result = verify(haven.db, expect=args.expect)
    if args.json:
        emit_json(
            ctx,
            {
                "rows": result.rows,
                "ok": result.ok,
                "head": result.head,
                "first_bad_seq": result.first_bad_seq,
                "anchored": result.anchored,
                "problems": list(result.problems),
            },
        )
    elif result.ok:
        ctx.stdout.write(
            f"audit log intact: {result.rows} entries, {result.anchored} "
            f"anchored; head {result.head}\n"
        )
    if result.first_bad_seq is not None:
        raise IntegrityError(
            f"audit log altered at entry {result.first_bad_seq} "
            f"({result.rows} entries before it verify)",
            "treat everything from that entry on as untrusted",
        )
    if result.problems:
        raise IntegrityError(
            f"audit log altered: {result.problems[0]}",
            "treat the audit log as untrusted; compare with a copy kept elsewhere",
        )
    return exitcodes.OK


def _purge(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    older = parse_duration(args.older_than, "--older-than") if args.older_than else None
    result = haven.purge(older)
    if args.json:
        emit_json(ctx, {"purged": result.purged, "failed": result.failed})
    else:
        ctx.stdout.write(f"purged {result.purged} trashed objects\n")
        for line in result.failed:
            ctx.stderr.write(f"kaikyo: warning: could not purge {line}\n")
    if result.failed:
        raise PermissionDeniedError(
            f"{len(result.failed)} trashed object(s) could not be purged",
            "see the lines above; the others were purged",
        )
    return exitcodes.OK


__all__ = [
    "add_data_arg",
    "human_bytes",
    "open_haven",
    "parse_count",
    "parse_expiry",
    "parse_quota",
    "register",
    "run",
    "settings_from",
]
