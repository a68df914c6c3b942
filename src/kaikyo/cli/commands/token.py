"""``kaikyo token``: issue and revoke a tenant's bearer tokens (shown once, stored hashed)."""

from __future__ import annotations

import argparse

from kaikyo.cli import exitcodes
from kaikyo.cli.commands.haven import add_data_arg, open_haven, parse_expiry
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json
from kaikyo.server.tokens import Scope


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "token",
        help="issue and revoke haven tokens",
        description="A token lets a client reach one tenant's repositories with one scope: "
        "backup (append-only), restore (read-only) or admin (deletes go to the trash for "
        "the grace period). The haven keeps only a hash of each token.",
        epilog="""examples:
  kaikyo token issue acme --scope backup --expires 1y
  kaikyo token revoke 7""",
    )
    sub = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    p = sub.add_parser(
        "issue",
        help="issue a token for a tenant (printed once)",
        description="Issue a token and print it once on stdout (its id on stderr): give it "
        "to the tenant's client as KAIKYO_TOKEN. Expiry is checked by the haven's clock.",
        epilog="""examples:
  kaikyo token issue acme --scope backup
  kaikyo token issue acme --scope restore --expires 6mo
  kaikyo token issue acme --scope admin --expires 2026-12-31 --json""",
    )
    p.add_argument("tenant", metavar="TENANT", help="the tenant the token is for")
    p.add_argument(
        "--scope",
        required=True,
        choices=[s.value for s in Scope],
        help="backup = append-only, restore = read-only, admin = delayed delete",
    )
    p.add_argument(
        "--expires",
        metavar="WHEN",
        help="a duration from now (90d, 6mo, 1y; a bare 'm' is refused: write min or mo) or "
        "a date (2026-12-31, UTC unless a zone is given); default: never",
    )
    add_data_arg(p)
    p.set_defaults(func=_issue)
    p = sub.add_parser(
        "revoke",
        help="revoke a token by its id (or the token itself)",
        description="Revoke a token at once: every request with it is refused from now on "
        "(the client exits 20).",
        epilog="""examples:
  kaikyo token revoke 7
  kaikyo token revoke kk_... --json""",
    )
    p.add_argument(
        "token_id", metavar="TOKEN", help="the token's id (see 'tenant show') or the token itself"
    )
    add_data_arg(p)
    p.set_defaults(func=_revoke)


def _issue(args: argparse.Namespace, ctx: CliContext) -> int:
    haven = open_haven(args, ctx)
    try:
        expires = parse_expiry(args.expires, ctx.clock.now()) if args.expires else None
        new = haven.issue_token(args.tenant, Scope(args.scope), expires)
    finally:
        haven.close()
    if args.json:
        emit_json(
            ctx,
            {
                "token": new.text,
                "id": new.token_id,
                "tenant": args.tenant,
                "scope": args.scope,
                "expires_at": expires,
            },
        )
    else:
        ctx.stdout.write(new.text + "\n")
        ctx.stderr.write(
            f"token {new.token_id} ({args.scope}) for {args.tenant}; it is shown "
            "only now: keep it in KAIKYO_TOKEN\n"
        )
    return exitcodes.OK


def _revoke(args: argparse.Namespace, ctx: CliContext) -> int:
    haven = open_haven(args, ctx)
    try:
        tenant = haven.revoke_token(args.token_id)
    finally:
        haven.close()
    if args.json:
        emit_json(ctx, {"revoked": args.token_id, "tenant": tenant})
    else:
        ctx.stdout.write(f"revoked token {args.token_id} of {tenant}\n")
    return exitcodes.OK
