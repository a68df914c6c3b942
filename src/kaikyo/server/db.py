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


def _v1(conn: Connection) -> None:
    for table in (tenants, tokens, trash, audit):
        table.create(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1]
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


class Database:
    """An engine plus the two kinds of transaction the haven uses: read and write."""

    def __init__(self, url: str) -> None:
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
        with self.engine.connect() as raw:
            conn = raw.execution_options(immediate=True)
            with conn.begin():
                yield conn

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
