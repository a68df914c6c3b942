"""Delayed deletion: an admin's delete moves the object to the tenant's trash, out of sight.

Trashed objects live at ``<data>/trash/<tenant>/<id>`` with a row in the ``trash`` table; they
are purged once older than the grace period by the haven's clock (or by the operator), and
``undelete`` links them back. A stolen admin token can therefore hide backups for at most the
grace period, never destroy them. Usage drops on delete and returns on undelete.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kaikyo.server import quota
from kaikyo.server.db import Database, trash
from kaikyo.server.objects import ObjectArea, fsync_dir, validate_segment
from kaikyo.store.errors import ObjectNotFound


@dataclass(frozen=True, slots=True)
class TrashResult:
    restored: list[str]
    skipped: list[str]


class Trash:
    def __init__(self, root: Path, area: ObjectArea) -> None:
        self.root = root
        self.area = area

    def _path(self, tenant: str, trash_id: int) -> Path:
        return self.root / validate_segment("tenant", tenant) / str(trash_id)

    def move_in(
        self, conn: Connection, tenant_id: int, tenant: str, *, repo: str, name: str,
        now: float, token_id: str | None,
    ) -> int:
        """Move one object to the trash inside the caller's write transaction; returns size."""
        source = self.area.repo_root(tenant, repo) / name
        try:
            size = source.stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(f"object not found: {name}") from None
        key = conn.execute(
            trash.insert().values(
                tenant_id=tenant_id, repo=repo, name=name, size=size, deleted_at=now,
                token_id=token_id,
            )
        ).inserted_primary_key
        assert key is not None
        trash_id = key[0]
        target = self._path(tenant, int(trash_id))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(source, target)
        except FileNotFoundError:
            raise ObjectNotFound(f"object not found: {name}") from None
        fsync_dir(source.parent)
        quota.release(conn, tenant_id, size, 1)
        return size

    def undelete(
        self, db: Database, tenant_id: int, tenant: str, repo: str | None, name: str | None
    ) -> TrashResult:
        """Link trashed objects back (never over an existing object); returns what moved."""
        query = sa.select(trash).where(trash.c.tenant_id == tenant_id)
        if repo is not None:
            query = query.where(trash.c.repo == repo)
        if name is not None:
            query = query.where(trash.c.name == name)
        restored, skipped = [], []
        with db.write() as conn:
            for row in conn.execute(query.order_by(trash.c.deleted_at.desc())).all():
                label = f"{row.repo}/{row.name}"
                target = self.area.store(tenant, row.repo, create=True).root / row.name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = self._path(tenant, row.id)
                try:
                    os.link(source, target)
                except (FileExistsError, FileNotFoundError):
                    skipped.append(label)
                    continue
                os.unlink(source)
                conn.execute(trash.delete().where(trash.c.id == row.id))
                quota.reserve_unchecked(conn, tenant_id, row.size, 1)
                restored.append(label)
        return TrashResult(restored, skipped)

    def purge(self, db: Database, tenants: dict[int, str], older_than: float) -> int:
        """Remove trashed objects deleted at or before ``older_than``; returns the count."""
        with db.write() as conn:
            rows = conn.execute(sa.select(trash).where(trash.c.deleted_at <= older_than)).all()
            for row in rows:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._path(tenants[row.tenant_id], row.id))
                conn.execute(trash.delete().where(trash.c.id == row.id))
        return len(rows)

    @staticmethod
    def summary(conn: Connection, tenant_id: int) -> tuple[int, int]:
        row = conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(trash.c.size), 0)).where(
                trash.c.tenant_id == tenant_id
            )
        ).one()
        return int(row[0]), int(row[1])
