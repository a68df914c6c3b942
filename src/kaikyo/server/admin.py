"""The operator's view of a haven: tenants, tokens, quotas, trash, and request authentication.

:class:`Haven` is shared by the ASGI app (per-request authentication and accounting) and the
operator commands (``kaikyo tenant``/``token``/``haven``), which act on the same data directory.
Every mutation here is written to the audit log in the same transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kaikyo.clock import Clock
from kaikyo.errors import AlreadyExistsError, NotFoundError, UsageError
from kaikyo.server import audit, locks, tokens
from kaikyo.server.anchor import AuditAnchor
from kaikyo.server.db import Database, tenants
from kaikyo.server.db import audit as audit_table
from kaikyo.server.db import tokens as tokens_table
from kaikyo.server.objects import ObjectArea, validate_segment
from kaikyo.server.principal import Principal
from kaikyo.server.settings import HavenSettings
from kaikyo.server.tokens import Scope
from kaikyo.server.trash import PurgeResult, Trash, TrashResult
from kaikyo.store.errors import StoreAuthFailed, StorePermissionDenied

OPERATOR = "operator"


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
        self.db = Database(settings.database_url, AuditAnchor(settings.anchor_path))
        self.db.migrate()
        self._anchor_existing()
        self.area = ObjectArea(settings.objects_root)
        self.trash = Trash(settings.trash_root, self.area)

    def _anchor_existing(self) -> None:
        """A haven whose audit log predates the anchor starts anchoring at its newest row."""
        anchor = self.db.anchor
        if anchor is None or anchor.exists():
            return
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(audit_table.c.seq, audit_table.c.hash)
                .order_by(audit_table.c.seq.desc())
                .limit(1)
            ).first()
        if row is not None:
            anchor.record(int(row[0]), str(row[1]))

    def close(self) -> None:
        self.db.close()

    def _operator_audit(self, conn: sa.Connection, action: str, tenant: str, obj: str = "") -> None:
        audit.append(
            conn,
            audit.AuditEntry(
                ts=self.clock.now(),
                action=action,
                result="ok",
                tenant=tenant,
                remote=OPERATOR,
                object=obj or None,
            ),
        )

    # -- tenants -----------------------------------------------------------------------------

    def add_tenant(
        self,
        name: str,
        quota_bytes: int | None = None,
        quota_objects: int | None = None,
        verify_names: bool = True,
    ) -> None:
        validate_segment("tenant", name)
        with self.db.write() as conn:
            if conn.execute(sa.select(tenants.c.id).where(tenants.c.name == name)).first():
                raise AlreadyExistsError(f"tenant {name!r} already exists")
            conn.execute(
                tenants.insert().values(
                    name=name,
                    created_at=self.clock.now(),
                    suspended=False,
                    verify_names=verify_names,
                    quota_bytes=quota_bytes,
                    quota_objects=quota_objects,
                    used_bytes=0,
                    used_objects=0,
                )
            )
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
        keys = (
            "name",
            "created_at",
            "suspended",
            "verify_names",
            "quota_bytes",
            "quota_objects",
            "used_bytes",
            "used_objects",
        )
        return {k: m[k] for k in keys}

    def show_tenant(self, name: str, audit_lines: int = 10) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._tenant_row(conn, name)
            toks = conn.execute(
                sa.select(tokens_table)
                .where(tokens_table.c.tenant_id == row.id)
                .order_by(tokens_table.c.created_at)
            ).all()
            trash_count, trash_bytes = Trash.summary(conn, row.id)
        info = self._tenant_dict(row)
        info["repositories"] = self.area.repositories(name)
        # Usage counts the trash too (it is on disk until purged); shown apart here.
        info["trash"] = {
            "objects": trash_count,
            "bytes": trash_bytes,
            "purged_after_seconds": self.settings.trash_grace,
        }
        info["live_bytes"] = max(0, int(row.used_bytes) - trash_bytes)
        info["tokens"] = [
            {
                "id": t.id,
                "scope": t.scope,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
            }
            for t in toks
        ]
        info["audit_tail"] = audit.tail(self.db, name, audit_lines)
        return info

    def set_quota(self, name: str, quota_bytes: int | None, quota_objects: int | None) -> None:
        with self.db.write() as conn:
            row = self._tenant_row(conn, name)
            conn.execute(
                tenants.update()
                .where(tenants.c.id == row.id)
                .values(quota_bytes=quota_bytes, quota_objects=quota_objects)
            )
            self._operator_audit(conn, "tenant.quota", name, f"{quota_bytes}/{quota_objects}")

    def set_suspended(self, name: str, suspended: bool) -> None:
        with self.db.write() as conn:
            row = self._tenant_row(conn, name)
            conn.execute(tenants.update().where(tenants.c.id == row.id).values(suspended=suspended))
            self._operator_audit(conn, "tenant.suspend" if suspended else "tenant.resume", name)

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(self, tenant: str, scope: Scope, expires_at: float | None) -> tokens.NewToken:
        new = tokens.generate()
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            raise UsageError("the token's expiry is in the past")
        with self.db.write() as conn:
            row = self._tenant_row(conn, tenant)
            conn.execute(
                tokens_table.insert().values(
                    id=new.token_id,
                    tenant_id=row.id,
                    scope=scope.value,
                    secret_sha256=new.secret_sha256,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
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
            conn.execute(
                tokens_table.update()
                .where(tokens_table.c.id == tid)
                .values(revoked_at=self.clock.now())
            )
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
                sa.select(tokens_table, tenants.c.name, tenants.c.suspended, tenants.c.verify_names)
                .join(tenants, tenants.c.id == tokens_table.c.tenant_id)
                .where(tokens_table.c.id == token_id)
            ).first()
        # Compare even when the row is missing, so timing does not reveal which ids exist.
        stored = row.secret_sha256 if row is not None else "0" * 64
        if not tokens.secret_matches(secret, stored) or row is None:
            raise StoreAuthFailed("unknown token")
        if row.revoked_at is not None or (
            row.expires_at is not None and row.expires_at <= self.clock.now()
        ):
            refusal = StoreAuthFailed(
                "token revoked" if row.revoked_at is not None else "token expired"
            )
            # The secret matched: whoever this is holds that token, a fact worth its own
            # audit row under the token's real tenant (see Guard._record).
            refusal.holder = (row.name, token_id)
            raise refusal
        if row.suspended:
            raise StorePermissionDenied(f"tenant {row.name} is suspended", "ask the haven operator")
        return Principal(row.tenant_id, row.name, token_id, Scope(row.scope), row.verify_names)

    def recount_usage(self) -> None:
        """Set every tenant's usage from what is on disk: its objects and its trash.

        Run at startup: a server killed mid-upload never released that upload's reservation,
        and the disk, not the counter, is the truth.
        """
        for tenant in self.list_tenants():
            nbytes = nobjects = 0
            for repo in self.area.repositories(tenant["name"]):
                for info in self.area.store(tenant["name"], repo).list(""):
                    nbytes, nobjects = nbytes + info.size, nobjects + 1
            trash_bytes, trash_files = self.trash.disk_usage(tenant["name"])
            with self.db.write() as conn:
                conn.execute(
                    tenants.update()
                    .where(tenants.c.name == tenant["name"])
                    .values(used_bytes=nbytes + trash_bytes, used_objects=nobjects + trash_files)
                )

    def recover(self) -> None:
        """Settle what a crash left half done: trash moves, lock records. At start-up."""
        names = self._tenant_names()
        self.trash.recover(self.db, names)
        locks.reconcile(self.db, self.area, names)

    def _tenant_names(self) -> dict[int, str]:
        with self.db.read() as conn:
            return {r.id: r.name for r in conn.execute(sa.select(tenants.c.id, tenants.c.name))}

    # -- trash -------------------------------------------------------------------------------

    def undelete(
        self, tenant: str, repo: str | None, name: str | None, trash_id: int | None = None
    ) -> TrashResult:
        result = self.trash.undelete(self.db, self.tenant_id(tenant), tenant, repo, name, trash_id)
        with self.db.write() as conn:
            self._operator_audit(conn, "tenant.undelete", tenant, f"{len(result.restored)}")
        return result

    def list_trash(self, tenant: str) -> list[dict[str, Any]]:
        from kaikyo.server.db import trash

        tid = self.tenant_id(tenant)
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(trash).where(trash.c.tenant_id == tid).order_by(trash.c.deleted_at)
            ).all()
        return [
            {
                "id": r.id,
                "repo": r.repo,
                "name": r.name,
                "size": r.size,
                "deleted_at": r.deleted_at,
                "token_id": r.token_id,
                "state": r.state,
                "purge_after": r.deleted_at + self.settings.trash_grace,
            }
            for r in rows
        ]

    def purge(self, older_than_seconds: float | None = None) -> PurgeResult:
        grace = self.settings.trash_grace if older_than_seconds is None else older_than_seconds
        result = self.trash.purge(self.db, self._tenant_names(), self.clock.now() - grace)
        if result.purged or result.failed:
            with self.db.write() as conn:
                self._operator_audit(
                    conn, "trash.purge", "*", f"{result.purged} purged, {len(result.failed)} failed"
                )
        return result
