"""Per-tenant usage accounting: reserve before accepting bytes, release if they never land.

Usage counts what the tenant's data takes on disk: live objects and, until purged, the
objects in its trash.

Reservation is one conditional UPDATE, so two uploads racing for the last bytes of a quota
cannot both pass: the database decides atomically. A ``NULL`` quota means unlimited.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kaikyo.server.db import tenants, trash
from kaikyo.store.errors import StoreQuotaExceeded


def reserve(conn: Connection, tenant_id: int, nbytes: int, nobjects: int) -> None:
    """Add to the tenant's usage if the quota allows it, else raise StoreQuotaExceeded."""
    t = tenants.c
    fits_bytes = sa.or_(t.quota_bytes.is_(None), t.used_bytes + nbytes <= t.quota_bytes)
    fits_objects = sa.or_(t.quota_objects.is_(None), t.used_objects + nobjects <= t.quota_objects)
    result = conn.execute(
        tenants.update()
        .where(t.id == tenant_id, fits_bytes, fits_objects)
        .values(used_bytes=t.used_bytes + nbytes, used_objects=t.used_objects + nobjects)
    )
    if result.rowcount == 0:
        row = conn.execute(
            sa.select(t.used_bytes, t.quota_bytes, t.used_objects, t.quota_objects).where(
                t.id == tenant_id
            )
        ).one()
        in_trash = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(trash.c.size), 0)).where(
                trash.c.tenant_id == tenant_id
            )
        ).scalar_one()
        raise StoreQuotaExceeded(
            f"tenant quota exceeded: {row.used_bytes} of {row.quota_bytes or 'unlimited'} bytes "
            f"and {row.used_objects} of {row.quota_objects or 'unlimited'} objects used "
            f"({in_trash} bytes of it deleted objects kept in the trash until purged); "
            f"this upload needs {nbytes} bytes more"
        )


def release(conn: Connection, tenant_id: int, nbytes: int, nobjects: int) -> None:
    """Undo a reservation (or account a deletion); never drives usage below zero."""
    t = tenants.c
    conn.execute(
        tenants.update()
        .where(t.id == tenant_id)
        .values(
            used_bytes=sa.func.max(t.used_bytes - nbytes, 0)
            if conn.dialect.name == "sqlite"
            else sa.func.greatest(t.used_bytes - nbytes, 0),
            used_objects=sa.func.max(t.used_objects - nobjects, 0)
            if conn.dialect.name == "sqlite"
            else sa.func.greatest(t.used_objects - nobjects, 0),
        )
    )


def reserve_unchecked(conn: Connection, tenant_id: int, nbytes: int, nobjects: int) -> None:
    """Add usage without a quota check: for the operator's undelete, which must always work."""
    t = tenants.c
    conn.execute(
        tenants.update()
        .where(t.id == tenant_id)
        .values(used_bytes=t.used_bytes + nbytes, used_objects=t.used_objects + nobjects)
    )
