"""The tamper-evident audit log: one row per mutating or refused request, hash-chained.

Each row's ``hash`` is SHA-256 over the previous row's hash and a canonical JSON encoding of the
row's fields, so changing, removing or reordering any row breaks every hash after it; the
first row chains from 64 zeros. Appends happen inside a write transaction (the caller's),
which serializes them across processes; once it commits, the row's number and hash go to the
anchor file (:mod:`kaikyo.server.anchor`). :func:`verify` recomputes the chain and checks every
anchored row, so deleting the newest rows, all rows, or editing one and recomputing the chain
is detected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kaikyo.server.anchor import AuditAnchor
from kaikyo.server.db import ANCHOR, Database, after_commit, audit

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
    digest = _digest(prev, entry)
    key = conn.execute(
        audit.insert().values(**asdict(entry), prev_hash=prev, hash=digest)
    ).inserted_primary_key
    anchor: AuditAnchor | None = conn.info.get(ANCHOR)
    if anchor is not None and key is not None:
        seq = int(key[0])
        after_commit(conn, lambda: anchor.record(seq, digest))


def _entry(row: sa.Row[tuple[object, ...]]) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        ts=m["ts"],
        action=m["action"],
        result=m["result"],
        tenant=m["tenant"],
        token_id=m["token_id"],
        repo=m["repo"],
        object=m["object"],
        bytes=m["bytes"],
        remote=m["remote"],
    )


@dataclass(frozen=True, slots=True)
class Verification:
    rows: int
    first_bad_seq: int | None
    head: str = ""  # "SEQ:HASH" of the newest row that verifies ("0:GENESIS" when none)
    problems: tuple[str, ...] = ()  # what contradicts the anchor or the expected head
    anchored: int = 0  # anchored rows checked

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and not self.problems


def _chain(
    db: Database, batch: int, anchored: dict[int, str]
) -> tuple[int, int | None, int, str, list[str]]:
    """Recompute the chain, comparing each row with its anchored hash (matched rows are
    popped from ``anchored``): (rows, first bad seq, last seq, last hash, mismatches)."""
    prev, count, after = GENESIS, 0, 0
    problems: list[str] = []
    while True:
        with db.read() as conn:
            rows = conn.execute(
                sa.select(audit).where(audit.c.seq > after).order_by(audit.c.seq).limit(batch)
            ).all()
        if not rows:
            return count, None, after, prev, problems
        for row in rows:
            m = row._mapping
            if m["prev_hash"] != prev or m["hash"] != _digest(prev, _entry(row)):
                return count, int(m["seq"]), after, prev, problems
            prev, after, count = m["hash"], int(m["seq"]), count + 1
            want = anchored.pop(after, None)
            if want is not None and want != prev and not problems:
                problems.append(
                    f"entry {after} differs from what was anchored (edited and "
                    "the chain recomputed)"
                )


def _anchor_view(anchor: AuditAnchor) -> tuple[dict[int, str], list[str]]:
    rows, bad_lines = anchor.read()
    problems = []
    if bad_lines:
        problems.append(
            f"the anchor file has {len(bad_lines)} line(s) that do not parse "
            f"(first: line {bad_lines[0]})"
        )
    return {r.seq: r.hash for r in rows}, problems


def _expected(db: Database, expect: str) -> str | None:
    """The problem with ``expect`` (``SEQ:HASH`` from an earlier verify), or None."""
    seq_text, _, want = expect.partition(":")
    if not (seq_text.isascii() and seq_text.isdigit() and len(seq_text) < 19) or len(want) != 64:
        return f"--expect {expect!r} is not SEQ:HASH"
    seq = int(seq_text)
    if seq == 0:
        return None if want == GENESIS else "--expect names entry 0 with a hash other than 0s"
    with db.read() as conn:
        row = conn.execute(sa.select(audit.c.hash).where(audit.c.seq == seq)).first()
    if row is None:
        return f"entry {seq}, expected by --expect, is gone (the log was cut)"
    if row[0] != want:
        return f"entry {seq} is not the one expected (the log was rewritten)"
    return None


def verify(db: Database, batch: int = 10_000, expect: str | None = None) -> Verification:
    """Recompute the whole chain, then check it against the anchor file and ``expect``
    (a ``SEQ:HASH`` head printed by an earlier verify); report what does not hold."""
    anchored, problems = _anchor_view(db.anchor) if db.anchor is not None else ({}, [])
    total = len(anchored)
    count, bad, last, head_hash, mismatch = _chain(db, batch, anchored)
    problems += mismatch
    if bad is None:
        gone = sorted(anchored)
        if gone and gone[-1] > last:
            problems.append(
                f"entry {gone[-1]} was committed (anchored) but is gone: the newest "
                f"entries were removed (the log now ends at entry {last})"
            )
        elif gone:
            problems.append(f"anchored entry {gone[0]} is missing")
        if expect:
            problem = _expected(db, expect)
            if problem:
                problems.append(problem)
    return Verification(count, bad, f"{last}:{head_hash}", tuple(problems), total)


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
