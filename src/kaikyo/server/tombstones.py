"""Names a tenant deleted, never stored again: replays are refused at the door.

Every kaikyo object but ``config`` is sealed with a random nonce, and its name is the SHA-256
of its bytes, so no honest writer ever makes a name twice. A name that was deleted and is put
again can only be an old object replayed by someone who kept a copy: an index from before a
prune (which would make a prune keep a copy that is gone), a forgotten snapshot (which would
look newest to retention by receive time), a removed key slot (which would open the
repository to a passphrase that was revoked), an old lock. The haven keeps a tombstone for
every name it deletes for a name-verifying tenant and answers 410 to a put of it;
``kaikyo tenant undelete`` lifts the tombstone of what it brings back.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kaikyo.server.db import tombstones
from kaikyo.store.errors import ObjectGone

UNVERIFIED = "config"


def applies(verify_names: bool, name: str) -> bool:
    """Names of a name-verifying tenant are made once; ``config`` is the one exception."""
    return verify_names and name != UNVERIFIED


def bury(conn: Connection, tenant_id: int, repo: str, name: str, now: float) -> None:
    exists = conn.execute(
        sa.select(tombstones.c.name).where(
            tombstones.c.tenant_id == tenant_id,
            tombstones.c.repo == repo,
            tombstones.c.name == name,
        )
    ).first()
    if exists is None:
        conn.execute(
            tombstones.insert().values(tenant_id=tenant_id, repo=repo, name=name, deleted_at=now)
        )


def refuse_if_buried(conn: Connection, tenant_id: int, repo: str, name: str) -> None:
    row = conn.execute(
        sa.select(tombstones.c.deleted_at).where(
            tombstones.c.tenant_id == tenant_id,
            tombstones.c.repo == repo,
            tombstones.c.name == name,
        )
    ).first()
    if row is not None:
        raise ObjectGone(
            f"{name} was deleted from this repository and is not stored again "
            "(an old object put back)"
        )


def unbury(conn: Connection, tenant_id: int, repo: str, name: str) -> None:
    conn.execute(
        tombstones.delete().where(
            tombstones.c.tenant_id == tenant_id,
            tombstones.c.repo == repo,
            tombstones.c.name == name,
        )
    )
