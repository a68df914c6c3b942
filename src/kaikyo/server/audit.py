"""The tamper-evident audit log: one row per mutating or refused request, hash-chained.

Each row's ``hash`` is SHA-256 over the previous row's hash and a canonical JSON encoding of the
row's fields, so changing, removing or reordering any row breaks every hash after it; the
first row chains from 64 zeros. :func:`verify` recomputes the chain. Appends happen inside a
write transaction (the caller's), which serializes them across processes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kaikyo.server.db import Database, audit

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    ts: float
    action: str
    result: str
    tenant: str | None = None
    token_id: str | None = None
    repo: str | None = None
    object: str | None = None
    bytes: int = 0
    remote: str | None = None


def _digest(prev_hash: str, entry: AuditEntry) -> str:
    canonical = json.dumps(asdict(entry), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def append(conn: Connection, entry: AuditEntry) -> None:
    """Append ``entry`` to the chain inside the caller's write transaction."""
    last = conn.execute(
        sa.select(audit.c.hash).order_by(audit.c.seq.desc()).limit(1).with_for_update()
    ).first()
    prev = last[0] if last else GENESIS
    conn.execute(audit.insert().values(**asdict(entry), prev_hash=prev, hash=_digest(prev, entry)))


def _entry(row: sa.Row[tuple[object, ...]]) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        ts=m["ts"], action=m["action"], result=m["result"], tenant=m["tenant"],
        token_id=m["token_id"], repo=m["repo"], object=m["object"], bytes=m["bytes"],
        remote=m["remote"],
    )


@dataclass(frozen=True, slots=True)
class Verification:
    rows: int
    first_bad_seq: int | None

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def verify(db: Database, batch: int = 10_000) -> Verification:
    """Recompute the whole chain; report the first row whose hash or link is wrong."""
    prev, count, after = GENESIS, 0, 0
    while True:
        with db.read() as conn:
            rows = conn.execute(
                sa.select(audit).where(audit.c.seq > after).order_by(audit.c.seq).limit(batch)
            ).all()
        if not rows:
            return Verification(count, None)
        for row in rows:
            m = row._mapping
            if m["prev_hash"] != prev or m["hash"] != _digest(prev, _entry(row)):
                return Verification(count, m["seq"])
            prev, after, count = m["hash"], m["seq"], count + 1


def tail(db: Database, tenant: str | None = None, limit: int = 20) -> list[dict[str, object]]:
    """The newest ``limit`` rows (optionally of one tenant), oldest first."""
    query = sa.select(audit).order_by(audit.c.seq.desc()).limit(limit)
    if tenant is not None:
        query = query.where(audit.c.tenant == tenant)
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return rows[::-1]


def iter_rows(db: Database, tenant: str | None = None) -> Iterator[dict[str, object]]:
    query = sa.select(audit).order_by(audit.c.seq)
    if tenant is not None:
        query = query.where(audit.c.tenant == tenant)
    with db.read() as conn:
        for row in conn.execute(query):
            yield dict(row._mapping)
