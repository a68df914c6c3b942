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
    parser = subparsers.add_parser(
        "tenant",
        help="manage the haven's tenants",
        description="Operator commands on the haven's data directory (--data or "
        "KAIKYO_HAVEN_DATA), run on the haven's host, with or without 'kaikyo serve' "
        "running: add tenants, set quotas, suspend them, bring back objects from the trash.",
        epilog="""examples:
  kaikyo tenant add acme --quota-bytes 2T --data /srv/haven
  kaikyo tenant list
  kaikyo tenant quota acme --bytes 4T --objects none""",
    )
    sub = parser.add_subparsers(dest="tenant_command", metavar="ACTION", required=True)

    p = sub.add_parser(
        "add",
        help="create a tenant",
        description="Create a tenant (and the data directory, on first use). Its clients "
        "use https://HAVEN/TENANT/REPO with a token from 'kaikyo token issue'.",
        epilog="""examples:
  kaikyo tenant add acme
  kaikyo tenant add tokyo-corp --quota-bytes 2T --quota-objects 5000000 --json""",
    )
    p.add_argument("tenant", metavar="TENANT", help="the tenant's name (part of its URLs)")
    p.add_argument(
        "--quota-bytes",
        metavar="SIZE",
        help="most bytes the tenant may store, trash included, e.g. 500G or 2TiB (1024-based; "
        "default: unlimited)",
    )
    p.add_argument(
        "--quota-objects", metavar="N", help="most objects it may store (default: unlimited)"
    )
    p.add_argument(
        "--no-verify-names",
        action="store_true",
        help="accept any object name (for stores not named by content hash)",
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_add, create=True)

    p = sub.add_parser(
        "list",
        help="list tenants with usage and quota",
        description="One line per tenant: its state, the bytes and objects it stores and "
        "its quotas.",
        epilog="""examples:
  kaikyo tenant list
  kaikyo tenant list --json""",
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_list)

    p = sub.add_parser(
        "show",
        help="usage, quota, tokens, trash and audit tail of a tenant",
        description="Everything the haven knows about one tenant: usage and quotas, its "
        "tokens (ids, scopes, expiry), what is in its trash, and the last audit entries.",
        epilog="""examples:
  kaikyo tenant show acme
  kaikyo tenant show acme --audit-lines 50 --json""",
    )
    p.add_argument("tenant", metavar="TENANT", help="the tenant's name")
    p.add_argument(
        "--audit-lines",
        type=int,
        default=10,
        metavar="N",
        help="show the last N audit entries (default 10)",
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_show)

    p = sub.add_parser(
        "quota",
        help="set a tenant's quota ('none' = unlimited)",
        description="Set both quotas of a tenant; a quota not given becomes unlimited. Over "
        "quota, uploads are refused (the client exits 19); what is stored stays.",
        epilog="""examples:
  kaikyo tenant quota acme --bytes 4T --objects 10000000
  kaikyo tenant quota acme --bytes none --json""",
    )
    p.add_argument("tenant", metavar="TENANT", help="the tenant's name")
    p.add_argument(
        "--bytes",
        dest="quota_bytes",
        metavar="SIZE",
        help="most bytes, e.g. 500G or 2TiB (1024-based); none or 0 = unlimited",
    )
    p.add_argument(
        "--objects",
        dest="quota_objects",
        metavar="N",
        help="most objects; none or 0 = unlimited",
    )
    add_data_arg(p)
    p.set_defaults(func=run, action=_quota)

    for name, suspended, text in (
        ("suspend", True, "refuse every request of a tenant"),
        ("resume", False, "lift a suspension"),
    ):
        p = sub.add_parser(
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]}: "
            + (
                "every request with its tokens is refused (the client exits 17) until "
                "'kaikyo tenant resume'; nothing stored is touched."
                if suspended
                else "its tokens work again."
            ),
            epilog=f"""examples:
  kaikyo tenant {name} acme
  kaikyo tenant {name} acme --json""",
        )
        p.add_argument("tenant", metavar="TENANT", help="the tenant's name")
        add_data_arg(p)
        p.set_defaults(func=run, action=_suspend, suspended=suspended)

    p = sub.add_parser(
        "undelete",
        help="bring back objects from the tenant's trash",
        description="Put objects deleted within the grace period back where they were (a "
        "prune or forget run with a stolen admin token, undone). With no filter, the whole "
        "trash of the tenant comes back.",
        epilog="""examples:
  kaikyo tenant undelete acme --repo main
  kaikyo tenant undelete acme --repo main --name config --id 42 --json""",
    )
    p.add_argument("tenant", metavar="TENANT", help="the tenant's name")
    p.add_argument("--repo", metavar="REPO", help="only this repository")
    p.add_argument("--name", metavar="NAME", help="only this object name")
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

    p = sub.add_parser(
        "trash",
        help="list the objects in a tenant's trash",
        description="The objects deleted within the grace period, each with its trash id "
        "(for 'undelete --id'), when it was deleted, its size, repository and name.",
        epilog="""examples:
  kaikyo tenant trash acme
  kaikyo tenant trash acme --json""",
    )
    p.add_argument("tenant", metavar="TENANT", help="the tenant's name")
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
