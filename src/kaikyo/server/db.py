"""The haven's metadata schema (tenants, tokens, trash, audit) and its migrations.

SQLAlchemy Core over SQLite by default. The schema uses only portable types so PostgreSQL can
follow; the SQLite-specific parts are confined to :func:`_sqlite_setup` (WAL, and BEGIN
IMMEDIATE for write transactions so two processes - the server and an operator command -
serialize their writes instead of failing on upgrade). Write transactions that must serialize
on PostgreSQL take row locks (``with_for_update``), which SQLite ignores.

Migrations: ``schema_meta.version`` records the applied version; :data:`MIGRATIONS` lists one
function per version, applied in order inside one transaction. Never edit a released step; add
the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kaikyo.errors import UnsupportedVersionError
from kaikyo.server.anchor import AuditAnchor

metadata = sa.MetaData()

schema_meta = sa.Table(
    "schema_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("suspended", sa.Boolean, nullable=False, default=False),
    sa.Column("verify_names", sa.Boolean, nullable=False, default=True),
    sa.Column("quota_bytes", sa.BigInteger, nullable=True),
    sa.Column("quota_objects", sa.BigInteger, nullable=True),
    sa.Column("used_bytes", sa.BigInteger, nullable=False, default=0),
    sa.Column("used_objects", sa.BigInteger, nullable=False, default=0),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

trash = sa.Table(
    "trash",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("repo", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("deleted_at", sa.Float, nullable=False, index=True),
    sa.Column("token_id", sa.String(32), nullable=True),
    # v2: the file's own name in the trash directory (never reused: a row id may be), and
    # "moving" until the object has been renamed there (a crash in between is resolved at
    # start-up by looking at both places).
    sa.Column("file", sa.String(64), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, server_default="trashed"),
)

# v2: who made each lock, so only that token (or an admin) removes it, and how many locks a
# token holds.
locks = sa.Table(
    "locks",
    metadata,
    sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("repo", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("token_id", sa.String(32), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("tenant", sa.String(64), nullable=True, index=True),
    sa.Column("token_id", sa.String(32), nullable=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("repo", sa.String(64), nullable=True),
    sa.Column("object", sa.String(255), nullable=True),
    sa.Column("bytes", sa.BigInteger, nullable=False, default=0),
    sa.Column("result", sa.String(64), nullable=False),
    sa.Column("remote", sa.String(64), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)


# v2: every name deleted from a name-verifying tenant. Every kaikyo object but ``config`` is
# sealed with a random nonce, so its name (the hash of its bytes) is never legitimately made
# twice: a deleted name put again is an old object replayed, refused at the door.
tombstones = sa.Table(
    "tombstones",
    metadata,
    sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("repo", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("deleted_at", sa.Float, nullable=False),
)


def _v1(conn: Connection) -> None:
    for table in (tenants, tokens, trash, audit):
        table.create(conn, checkfirst=True)


def _v2(conn: Connection) -> None:
    """Trash files named apart from row ids, with a state; lock owners. (A database made at
    v2 gets the new columns from _v1's create already.)"""
    have = {c["name"] for c in sa.inspect(conn).get_columns("trash")}
    if "file" not in have:
        conn.execute(sa.text("ALTER TABLE trash ADD COLUMN file VARCHAR(64)"))
    if "state" not in have:
        conn.execute(
            sa.text("ALTER TABLE trash ADD COLUMN state VARCHAR(16) NOT NULL DEFAULT 'trashed'")
        )
    locks.create(conn, checkfirst=True)
    tombstones.create(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2]
SCHEMA_VERSION = len(MIGRATIONS)


def _sqlite_setup(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the "begin" hook below emit BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_HOOKS = "kaikyo.after_commit"
ANCHOR = "kaikyo.anchor"  # the AuditAnchor of a write transaction's database, if any


def after_commit(conn: Connection, hook: Callable[[], None]) -> None:
    """Run ``hook`` once the write transaction of ``conn`` has committed (never if it rolls
    back): for effects outside the database that must not get ahead of it."""
    conn.info[_HOOKS].append(hook)


class Database:
    """An engine plus the two kinds of transaction the haven uses: read and write."""

    def __init__(self, url: str, anchor: AuditAnchor | None = None) -> None:
        self.anchor = anchor
        is_sqlite = url.startswith("sqlite")
        connect_args = {"check_same_thread": False, "timeout": 30} if is_sqlite else {}
        self.engine = sa.create_engine(url, connect_args=connect_args, pool_size=8)
        if is_sqlite:
            _sqlite_setup(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; callbacks given to :func:`after_commit` run once it commits."""
        with self.engine.connect() as raw:
            conn = raw.execution_options(immediate=True)
            hooks: list[Callable[[], None]] = []
            conn.info[_HOOKS] = hooks
            conn.info[ANCHOR] = self.anchor
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop(_HOOKS, None)
                conn.info.pop(ANCHOR, None)
            for hook in hooks:
                hook()

    def migrate(self) -> int:
        """Bring the schema to :data:`SCHEMA_VERSION`; returns the version found before."""
        with self.write() as conn:
            schema_meta.create(conn, checkfirst=True)
            row = conn.execute(
                sa.select(schema_meta.c.value).where(schema_meta.c.key == "version")
            ).first()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise UnsupportedVersionError(
                    f"haven metadata is at schema version {found}; this kaikyo knows "
                    f"{SCHEMA_VERSION}"
                )
            for step in MIGRATIONS[found:]:
                step(conn)
            if found != SCHEMA_VERSION:
                values = {"key": "version", "value": str(SCHEMA_VERSION)}
                if row:
                    conn.execute(
                        schema_meta.update()
                        .where(schema_meta.c.key == "version")
                        .values(value=str(SCHEMA_VERSION))
                    )
                else:
                    conn.execute(schema_meta.insert().values(**values))
            return found

    def close(self) -> None:
        self.engine.dispose()
