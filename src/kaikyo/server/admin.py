"""The operator's view of a haven: tenants, tokens, quotas, trash, and request authentication.

:class:`Haven` is shared by the ASGI app (per-request authentication and accounting) and the
operator commands (``kaikyo tenant``/``token``/``haven``), which act on the same data directory.
Every mutation here is written to the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kaikyo.clock import Clock
from kaikyo.errors import AlreadyExistsError, NotFoundError, UsageError
from kaikyo.server import audit, tokens
from kaikyo.server.db import Database, tenants
from kaikyo.server.db import tokens as tokens_table
from kaikyo.server.objects import ObjectArea, validate_segment
from kaikyo.server.settings import HavenSettings
from kaikyo.server.tokens import Scope
from kaikyo.server.trash import Trash, TrashResult
from kaikyo.store.errors import StoreAuthFailed, StorePermissionDenied

OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: resolved from its token before any protocol handling."""

    tenant_id: int
    tenant: str
    token_id: str
    scope: Scope
    verify_names: bool


class Haven:
    """One haven data directory: metadata database, object area and trash."""

    def __init__(self, settings: HavenSettings, clock: Clock, *, create: bool = False) -> None:
        if not settings.data_dir.is_dir():
            if not create:
                raise NotFoundError(
                    f"no haven data directory at {settings.data_dir}",
                    "pass --data DIR (or KAIKYO_HAVEN_DATA), or create it with 'kaikyo serve'",
                )
            settings.data_dir.mkdir(parents=True, mode=0o700)
        self.settings = settings
        self.clock = clock
        self.db = Database(settings.database_url)
        self.db.migrate()
        self.area = ObjectArea(settings.objects_root)
        self.trash = Trash(settings.trash_root, self.area)

    def close(self) -> None:
        self.db.close()

    def _operator_audit(self, conn: sa.Connection, action: str, tenant: str, obj: str = "") -> None:
        audit.append(conn, audit.AuditEntry(
            ts=self.clock.now(), action=action, result="ok", tenant=tenant, remote=OPERATOR,
            object=obj or None,
        ))

    # -- tenants -----------------------------------------------------------------------------

    def add_tenant(
        self, name: str, quota_bytes: int | None = None, quota_objects: int | None = None,
        verify_names: bool = True,
    ) -> None:
        validate_segment("tenant", name)
        with self.db.write() as conn:
            if conn.execute(sa.select(tenants.c.id).where(tenants.c.name == name)).first():
                raise AlreadyExistsError(f"tenant {name!r} already exists")
            conn.execute(tenants.insert().values(
                name=name, created_at=self.clock.now(), suspended=False,
                verify_names=verify_names, quota_bytes=quota_bytes, quota_objects=quota_objects,
                used_bytes=0, used_objects=0,
            ))
            self._operator_audit(conn, "tenant.add", name)

    def _tenant_row(self, conn: sa.Connection, name: str) -> sa.Row[Any]:
        row = conn.execute(sa.select(tenants).where(tenants.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no tenant {name!r}", "see 'kaikyo tenant list'")
        return row

    def tenant_id(self, name: str) -> int:
        with self.db.read() as conn:
            return int(self._tenant_row(conn, name).id)

    def list_tenants(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(tenants).order_by(tenants.c.name)).all()
        return [self._tenant_dict(r) for r in rows]

    @staticmethod
    def _tenant_dict(row: sa.Row[Any]) -> dict[str, Any]:
        m = row._mapping
        keys = ("name", "created_at", "suspended", "verify_names", "quota_bytes",
                "quota_objects", "used_bytes", "used_objects")
        return {k: m[k] for k in keys}

    def show_tenant(self, name: str, audit_lines: int = 10) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._tenant_row(conn, name)
            toks = conn.execute(
                sa.select(tokens_table).where(tokens_table.c.tenant_id == row.id)
                .order_by(tokens_table.c.created_at)
            ).all()
            trash_count, trash_bytes = Trash.summary(conn, row.id)
        info = self._tenant_dict(row)
        info["repositories"] = self.area.repositories(name)
        info["trash"] = {"objects": trash_count, "bytes": trash_bytes}
        info["tokens"] = [
            {"id": t.id, "scope": t.scope, "created_at": t.created_at,
             "expires_at": t.expires_at, "revoked_at": t.revoked_at}
            for t in toks
        ]
        info["audit_tail"] = audit.tail(self.db, name, audit_lines)
        return info

    def set_quota(self, name: str, quota_bytes: int | None, quota_objects: int | None) -> None:
        with self.db.write() as conn:
            row = self._tenant_row(conn, name)
            conn.execute(tenants.update().where(tenants.c.id == row.id).values(
                quota_bytes=quota_bytes, quota_objects=quota_objects))
            self._operator_audit(conn, "tenant.quota", name, f"{quota_bytes}/{quota_objects}")

    def set_suspended(self, name: str, suspended: bool) -> None:
        with self.db.write() as conn:
            row = self._tenant_row(conn, name)
            conn.execute(
                tenants.update().where(tenants.c.id == row.id).values(suspended=suspended))
            self._operator_audit(conn, "tenant.suspend" if suspended else "tenant.resume", name)

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(self, tenant: str, scope: Scope, expires_at: float | None) -> tokens.NewToken:
        new = tokens.generate()
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            raise UsageError("the token's expiry is in the past")
        with self.db.write() as conn:
            row = self._tenant_row(conn, tenant)
            conn.execute(tokens_table.insert().values(
                id=new.token_id, tenant_id=row.id, scope=scope.value,
                secret_sha256=new.secret_sha256, created_at=now, expires_at=expires_at))
            self._operator_audit(conn, "token.issue", tenant, f"{new.token_id}:{scope.value}")
        return new

    def revoke_token(self, token_id: str) -> str:
        """Revoke by public id (or whole token text); returns the tenant's name."""
        parsed = tokens.parse(token_id)
        tid = parsed[0] if parsed else token_id
        with self.db.write() as conn:
            row = conn.execute(
                sa.select(tokens_table.c.id, tenants.c.name)
                .join(tenants, tenants.c.id == tokens_table.c.tenant_id)
                .where(tokens_table.c.id == tid)
            ).first()
            if row is None:
                raise NotFoundError(f"no token {tid!r}", "see 'kaikyo tenant show TENANT'")
            conn.execute(tokens_table.update().where(tokens_table.c.id == tid)
                         .values(revoked_at=self.clock.now()))
            self._operator_audit(conn, "token.revoke", row.name, tid)
        return str(row.name)

    def authenticate(self, token_text: str | None) -> Principal:
        """Resolve a bearer token to a principal, or raise StoreAuthFailed / PermissionDenied."""
        parsed = tokens.parse(token_text or "")
        if parsed is None:
            raise StoreAuthFailed("missing or malformed token")
        token_id, secret = parsed
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(tokens_table, tenants.c.name, tenants.c.suspended,
                          tenants.c.verify_names)
                .join(tenants, tenants.c.id == tokens_table.c.tenant_id)
                .where(tokens_table.c.id == token_id)
            ).first()
        # Compare even when the row is missing, so timing does not reveal which ids exist.
        stored = row.secret_sha256 if row is not None else "0" * 64
        if not tokens.secret_matches(secret, stored) or row is None:
            raise StoreAuthFailed("unknown token")
        if row.revoked_at is not None:
            raise StoreAuthFailed("token revoked")
        if row.expires_at is not None and row.expires_at <= self.clock.now():
            raise StoreAuthFailed("token expired")
        if row.suspended:
            raise StorePermissionDenied(f"tenant {row.name} is suspended",
                                        "ask the haven operator")
        return Principal(row.tenant_id, row.name, token_id, Scope(row.scope), row.verify_names)

    def recount_usage(self) -> None:
        """Set every tenant's usage from what is on disk.

        Run at startup: a server killed mid-upload never released that upload's reservation,
        and the disk, not the counter, is the truth.
        """
        for tenant in self.list_tenants():
            nbytes = nobjects = 0
            for repo in self.area.repositories(tenant["name"]):
                for info in self.area.store(tenant["name"], repo).list(""):
                    nbytes, nobjects = nbytes + info.size, nobjects + 1
            with self.db.write() as conn:
                conn.execute(tenants.update().where(tenants.c.name == tenant["name"])
                             .values(used_bytes=nbytes, used_objects=nobjects))

    # -- trash -------------------------------------------------------------------------------

    def undelete(self, tenant: str, repo: str | None, name: str | None) -> TrashResult:
        result = self.trash.undelete(self.db, self.tenant_id(tenant), tenant, repo, name)
        with self.db.write() as conn:
            self._operator_audit(conn, "tenant.undelete", tenant, f"{len(result.restored)}")
        return result

    def purge(self, older_than_seconds: float | None = None) -> int:
        grace = self.settings.trash_grace if older_than_seconds is None else older_than_seconds
        with self.db.read() as conn:
            names = {r.id: r.name for r in conn.execute(sa.select(tenants.c.id, tenants.c.name))}
        count = self.trash.purge(self.db, names, self.clock.now() - grace)
        if count:
            with self.db.write() as conn:
                self._operator_audit(conn, "trash.purge", "*", str(count))
        return count
