"""``kaikyo tenant``: onboard and manage the haven's tenants (add, list, show, quota, suspend,
resume, undelete)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from kaikyo.cli import exitcodes
from kaikyo.cli.commands.haven import add_data_arg, open_haven, parse_count, parse_quota
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, human_bytes
from kaikyo.server import Haven


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("tenant", help="manage the haven's tenants")
    sub = parser.add_subparsers(dest="tenant_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help="create a tenant")
    p.add_argument("tenant")
    p.add_argument("--quota-bytes", metavar="SIZE", help="e.g. 500G (default: unlimited)")
    p.add_argument("--quota-objects", metavar="N", help="(default: unlimited)")
    p.add_argument(
        "--no-verify-names",
        action="store_true",
        help="accept any object name (for stores not named by content hash)",
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_add, create=True)

    p = sub.add_parser("list", help="list tenants with usage and quota")
    add_data_arg(p)
    p.set_defaults(func=run, action=_list)

    p = sub.add_parser("show", help="usage, quota, tokens, trash and audit tail of a tenant")
    p.add_argument("tenant")
    p.add_argument("--audit-lines", type=int, default=10)
    add_data_arg(p)
    p.set_defaults(func=run, action=_show)

    p = sub.add_parser("quota", help="set a tenant's quota ('none' = unlimited)")
    p.add_argument("tenant")
    p.add_argument("--bytes", dest="quota_bytes", metavar="SIZE")
    p.add_argument("--objects", dest="quota_objects", metavar="N")
    add_data_arg(p)
    p.set_defaults(func=run, action=_quota)

    for name, suspended, text in (
        ("suspend", True, "refuse every request of a tenant"),
        ("resume", False, "lift a suspension"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("tenant")
        add_data_arg(p)
        p.set_defaults(func=run, action=_suspend, suspended=suspended)

    p = sub.add_parser("undelete", help="bring back objects from the tenant's trash")
    p.add_argument("tenant")
    p.add_argument("--repo", help="only this repository")
    p.add_argument("--name", help="only this object name")
    p.add_argument(
        "--id",
        type=int,
        dest="trash_id",
        metavar="N",
        help="only this trash entry (see 'kaikyo tenant trash'): picks one of "
        "several deleted versions of a name, e.g. of an overwritten config",
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_undelete)

    p = sub.add_parser("trash", help="list the objects in a tenant's trash")
    p.add_argument("tenant")
    add_data_arg(p)
    p.set_defaults(func=run, action=_trash)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    haven = open_haven(args, ctx, create=getattr(args, "create", False))
    try:
        return int(args.action(haven, args, ctx))
    finally:
        haven.close()


def _add(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    haven.add_tenant(
        args.tenant,
        parse_quota(args.quota_bytes, "--quota-bytes"),
        parse_count(args.quota_objects),
        verify_names=not args.no_verify_names,
    )
    if args.json:
        emit_json(ctx, {"tenant": args.tenant})
    else:
        ctx.stdout.write(f"tenant {args.tenant} added\n")
    return exitcodes.OK


def _limit(used: int, quota: int | None, render: Any = str) -> str:
    return f"{render(used)} of {render(quota) if quota is not None else 'unlimited'}"


def _list(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    rows = haven.list_tenants()
    if args.json:
        emit_json(ctx, rows)
        return exitcodes.OK
    for r in rows:
        state = "suspended" if r["suspended"] else "active"
        ctx.stdout.write(
            f"{r['name']:<24} {state:<10} "
            f"{_limit(r['used_bytes'], r['quota_bytes'], human_bytes):<28} "
            f"{_limit(r['used_objects'], r['quota_objects'])} objects\n"
        )
    return exitcodes.OK


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"


def _show(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    info = haven.show_tenant(args.tenant, args.audit_lines)
    if args.json:
        emit_json(ctx, info)
        return exitcodes.OK
    w = ctx.stdout.write
    w(f"tenant       {info['name']} ({'suspended' if info['suspended'] else 'active'})\n")
    w(f"usage        {_limit(info['used_bytes'], info['quota_bytes'], human_bytes)}\n")
    w(f"objects      {_limit(info['used_objects'], info['quota_objects'])}\n")
    w(
        f"trash        {info['trash']['objects']} objects, {human_bytes(info['trash']['bytes'])}"
        " (counted in the usage until purged)\n"
    )
    w(f"repositories {', '.join(info['repositories']) or '-'}\n")
    for t in info["tokens"]:
        state = "revoked" if t["revoked_at"] else f"expires {_when(t['expires_at'])}"
        w(f"token        {t['id']} {t['scope']:<8} {state}\n")
    for e in info["audit_tail"]:
        w(
            f"audit {e['seq']:>6} {_when(e['ts'])} {e['action']:<14} {e['result']:<20} "
            f"{e['repo'] or ''}/{e['object'] or ''} {e['bytes']}\n"
        )
    return exitcodes.OK


def _quota(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    quota = parse_quota(args.quota_bytes, "--bytes")
    haven.set_quota(args.tenant, quota, parse_count(args.quota_objects))
    if args.json:
        emit_json(
            ctx,
            {
                "tenant": args.tenant,
                "quota_bytes": quota,
                "quota_objects": parse_count(args.quota_objects),
            },
        )
    return exitcodes.OK


def _suspend(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    haven.set_suspended(args.tenant, args.suspended)
    if args.json:
        emit_json(ctx, {"tenant": args.tenant, "suspended": args.suspended})
    return exitcodes.OK


def _undelete(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    result = haven.undelete(args.tenant, args.repo, args.name, args.trash_id)
    if args.json:
        emit_json(
            ctx, {"restored": result.restored, "skipped": result.skipped, "purged": result.purged}
        )
    else:
        for label in result.restored:
            ctx.stdout.write(f"restored {label}\n")
        for label in result.skipped:
            ctx.stderr.write(f"skipped {label}: an object of that name exists\n")
        for label in result.purged:
            ctx.stderr.write(f"skipped {label}: already purged from the trash\n")
    return exitcodes.OK


def _trash(haven: Haven, args: argparse.Namespace, ctx: CliContext) -> int:
    rows = haven.list_trash(args.tenant)
    if args.json:
        emit_json(ctx, rows)
        return exitcodes.OK
    for r in rows:
        when = datetime.fromtimestamp(r["deleted_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        ctx.stdout.write(
            f"{r['id']:>8}  {when} UTC  {human_bytes(r['size']):>10}  {r['repo']}/{r['name']}\n"
        )
    ctx.stderr.write(f"{len(rows)} trashed object(s)\n")
    return exitcodes.OK
