"""Lock objects at the haven: small, few per token, removable only by their maker or an admin.

Locks are the one kind a ``restore`` token may write, and they are the engine's coordination:
without limits a read-only token could fill a tenant's quota with 256 MiB "locks", and remove
a live exclusive lock of a prune so a backup runs beside it. So the haven records which token
made each lock (the ``locks`` table): only that token, or an admin token, removes it; a token
holds at most ``max_per_token`` locks at once; a lock is at most ``MAX_LOCK_BYTES``; and a
restore token may only lock a repository that exists (it cannot create one).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kaikyo.server.db import Database, locks
from kaikyo.server.objects import ObjectArea
from kaikyo.server.principal import Principal
from kaikyo.server.tokens import Scope
from kaikyo.store.errors import ObjectExists, StorePermissionDenied
from kaikyo.store.wire import MAX_LOCK_BYTES

DEFAULT_MAX_PER_TOKEN = 64


class LockRefused(StorePermissionDenied):
    pass


def check_create(
    conn: Connection, p: Principal, repo: str, size: int, max_per_token: int, repo_exists: bool
) -> None:
    """Refuse a lock that is too large, one too many for the token, or (for a restore
    token) in a repository that does not exist."""
    if size > MAX_LOCK_BYTES:
        raise LockRefused(
            f"a lock of {size} bytes is larger than the {MAX_LOCK_BYTES} a lock may be"
        )
    if p.scope is Scope.RESTORE and not repo_exists:
        raise LockRefused(f"a restore token may not create repository {repo}")
    held = conn.execute(
        sa.select(sa.func.count()).select_from(locks).where(locks.c.token_id == p.token_id)
    ).scalar_one()
    if held >= max_per_token:
        raise LockRefused(
            f"this token already holds {held} locks (at most {max_per_token})",
            "remove stale locks with 'kaikyo unlock', or ask the operator",
        )


def record(conn: Connection, p: Principal, repo: str, name: str, size: int, now: float) -> None:
    try:
        with conn.begin_nested():
            conn.execute(
                locks.insert().values(
                    tenant_id=p.tenant_id,
                    repo=repo,
                    name=name,
                    token_id=p.token_id,
                    size=size,
                    created_at=now,
                )
            )
    except sa.exc.IntegrityError:
        raise ObjectExists(f"object exists: {name}") from None


def forget(conn: Connection, tenant_id: int, repo: str, name: str) -> None:
    conn.execute(
        locks.delete().where(
            locks.c.tenant_id == tenant_id, locks.c.repo == repo, locks.c.name == name
        )
    )


def check_delete(conn: Connection, p: Principal, repo: str, name: str) -> None:
    """Only the token that made a lock, or an admin token, removes it."""
    if p.scope is Scope.ADMIN:
        return
    owner = conn.execute(
        sa.select(locks.c.token_id).where(
            locks.c.tenant_id == p.tenant_id, locks.c.repo == repo, locks.c.name == name
        )
    ).first()
    if owner is None:
        raise LockRefused(
            f"{name} was not made by this token (its maker is not known)",
            "only an admin token may remove it",
        )
    if owner[0] != p.token_id:
        raise LockRefused(
            f"{name} was made by token {owner[0]}",
            "only that token or an admin token may remove it",
        )


def reconcile(db: Database, area: ObjectArea, tenants: dict[int, str]) -> int:
    """Drop rows of locks whose file is gone (a crash between the two); at start-up."""
    with db.read() as conn:
        rows = conn.execute(sa.select(locks)).all()
    dropped = 0
    for row in rows:
        tenant = tenants.get(row.tenant_id)
        if tenant is not None and area.store(tenant, row.repo).exists(row.name):
            continue
        with db.write() as conn:
            forget(conn, row.tenant_id, row.repo, row.name)
        dropped += 1
    return dropped
