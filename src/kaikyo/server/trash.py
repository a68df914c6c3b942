"""Delayed deletion: a delete moves the object to the tenant's trash, out of sight.

Trashed objects live at ``<data>/trash/<tenant>/<file>``, where ``file`` is random and never
reused (row ids may be), with a row in the ``trash`` table; they are purged once older than
the grace period by the haven's clock (or by the operator), and ``undelete`` links them back.
A stolen token can therefore hide backups for at most the grace period, never destroy them.
Trashed objects still count towards the tenant's usage (shown apart) until purged, so cycling
deletes and uploads cannot grow a tenant past its quota.

Every step is safe against a crash at any point:

- move in: the row is committed as ``moving`` first, then the file is renamed, then the row
  becomes ``trashed``. :meth:`Trash.recover` (at start-up) settles a ``moving`` row by where
  the file is.
- purge: one object at a time, file first, then its row; a row whose file is gone is simply
  dropped by the next purge, and ``undelete`` says it was purged.
- undelete: link back (never over an object), then unlink from the trash, then drop the row;
  an object found back in place already (same inode) completes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kaikyo.server import crashpoints, quota, tombstones
from kaikyo.server.db import Database, trash
from kaikyo.server.objects import ObjectArea, fsync_dir, validate_segment
from kaikyo.store.errors import ObjectNotFound

MOVING = "moving"
TRASHED = "trashed"


@dataclass(frozen=True, slots=True)
class TrashResult:
    restored: list[str]
    skipped: list[str]  # an object of that name exists again
    purged: list[str] = field(default_factory=list)  # its file was already purged


@dataclass(frozen=True, slots=True)
class PurgeResult:
    purged: int
    failed: list[str]


class Trash:
    def __init__(self, root: Path, area: ObjectArea) -> None:
        self.root = root
        self.area = area

    def _path(
        self, tenant: str, row: sa.Row[tuple[object, ...]] | None = None, *, file: str | None = None
    ) -> Path:
        if file is None:
            assert row is not None
            file = row.file or str(row.id)  # rows from before v2 are named by their id
        return self.root / validate_segment("tenant", tenant) / file

    def move_in(
        self,
        db: Database,
        tenant_id: int,
        tenant: str,
        *,
        repo: str,
        name: str,
        now: float,
        token_id: str | None,
        bury: bool = False,
    ) -> int:
        """Move one object to the trash (see the module docstring); returns its size.
        With ``bury``, the name is never stored again (see :mod:`kaikyo.server.tombstones`).

        Raises ObjectNotFound when there is no such object: a directory is never one.
        """
        source = self.area.repo_root(tenant, repo) / name
        try:
            st = source.lstat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"object not found: {name}") from None
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(f"object not found: {name}")
        file = secrets.token_hex(16)
        with db.write() as conn:
            key = conn.execute(
                trash.insert().values(
                    tenant_id=tenant_id,
                    repo=repo,
                    name=name,
                    size=st.st_size,
                    deleted_at=now,
                    token_id=token_id,
                    file=file,
                    state=MOVING,
                )
            ).inserted_primary_key
            if bury:
                tombstones.bury(conn, tenant_id, repo, name, now)
        assert key is not None
        target = self._path(tenant, file=file)
        target.parent.mkdir(parents=True, exist_ok=True)
        crashpoints.reached("trash.moving")
        try:
            os.rename(source, target)
        except FileNotFoundError:
            with db.write() as conn:
                conn.execute(trash.delete().where(trash.c.id == key[0]))
            raise ObjectNotFound(f"object not found: {name}") from None
        fsync_dir(source.parent)
        fsync_dir(target.parent)
        crashpoints.reached("trash.renamed")
        with db.write() as conn:
            conn.execute(trash.update().where(trash.c.id == key[0]).values(state=TRASHED))
        return st.st_size

    def recover(self, db: Database, tenants: dict[int, str]) -> int:
        """Settle rows left ``moving`` by a crash (call at start-up); returns how many."""
        with db.read() as conn:
            rows = conn.execute(sa.select(trash).where(trash.c.state == MOVING)).all()
        for row in rows:
            tenant = tenants.get(row.tenant_id)
            with db.write() as conn:
                if tenant is not None and self._path(tenant, row).exists():
                    conn.execute(trash.update().where(trash.c.id == row.id).values(state=TRASHED))
                else:  # the rename never happened: the object is where it was
                    conn.execute(trash.delete().where(trash.c.id == row.id))
        return len(rows)

    def undelete(
        self,
        db: Database,
        tenant_id: int,
        tenant: str,
        repo: str | None,
        name: str | None,
        trash_id: int | None = None,
    ) -> TrashResult:
        """Link trashed objects back (never over an existing object); returns what moved.

        Where several trashed versions of one name match (an overwritten ``config``), the
        newest comes back first and the older are skipped; ``trash_id`` picks one.
        """
        query = sa.select(trash).where(trash.c.tenant_id == tenant_id, trash.c.state == TRASHED)
        if repo is not None:
            query = query.where(trash.c.repo == repo)
        if name is not None:
            query = query.where(trash.c.name == name)
        if trash_id is not None:
            query = query.where(trash.c.id == trash_id)
        restored: list[str] = []
        skipped: list[str] = []
        purged: list[str] = []
        with db.read() as conn:
            rows = conn.execute(query.order_by(trash.c.deleted_at.desc())).all()
        for row in rows:
            label = f"{row.repo}/{row.name}"
            outcome = self._bring_back(db, tenant, row)
            {"restored": restored, "skipped": skipped, "purged": purged}[outcome].append(label)
        return TrashResult(restored, skipped, purged)

    def _bring_back(self, db: Database, tenant: str, row: sa.Row[tuple[object, ...]]) -> str:
        source = self._path(tenant, row)
        target = self.area.store(tenant, row.repo, create=True).root / row.name
        try:
            if not stat.S_ISREG(source.lstat().st_mode):
                return "skipped"  # not an object (a directory trashed by an older haven)
        except FileNotFoundError:
            with db.write() as conn:
                conn.execute(trash.delete().where(trash.c.id == row.id))
            return "purged"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
        except FileExistsError:
            if not os.path.samefile(source, target):
                return "skipped"
            # An earlier undelete linked it back and was cut before it finished.
        except (NotADirectoryError, FileNotFoundError):
            return "skipped"
        fsync_dir(target.parent)
        crashpoints.reached("undelete.linked")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(source)
        with db.write() as conn:
            conn.execute(trash.delete().where(trash.c.id == row.id))
            tombstones.unbury(conn, row.tenant_id, row.repo, row.name)
        return "restored"

    def purge(self, db: Database, tenants: dict[int, str], older_than: float) -> PurgeResult:
        """Remove trashed objects deleted at or before ``older_than``, one at a time, each in
        its own transaction; one that cannot be removed is reported and the rest go on."""
        with db.read() as conn:
            rows = conn.execute(
                sa.select(trash).where(trash.c.deleted_at <= older_than, trash.c.state == TRASHED)
            ).all()
        purged = 0
        failed: list[str] = []
        for row in rows:
            tenant = tenants.get(row.tenant_id)
            try:
                if tenant is not None:
                    _remove(self._path(tenant, row))
            except OSError as exc:
                failed.append(f"{tenant}/{row.repo}/{row.name}: {exc.strerror or exc}")
                continue
            crashpoints.reached("purge.removed")
            with db.write() as conn:
                conn.execute(trash.delete().where(trash.c.id == row.id))
                quota.release(conn, row.tenant_id, row.size, 1)
            purged += 1
        return PurgeResult(purged, failed)

    def disk_usage(self, tenant: str) -> tuple[int, int]:
        """Bytes and files in a tenant's trash directory, as on disk."""
        base = self.root / validate_segment("tenant", tenant)
        nbytes = nfiles = 0
        if base.is_dir():
            for entry in os.scandir(base):
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False):
                        nbytes += entry.stat(follow_symlinks=False).st_size
                        nfiles += 1
        return nbytes, nfiles

    @staticmethod
    def summary(conn: Connection, tenant_id: int) -> tuple[int, int]:
        row = conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(trash.c.size), 0)).where(
                trash.c.tenant_id == tenant_id
            )
        ).one()
        return int(row[0]), int(row[1])


def _remove(path: Path) -> None:
    """Remove a trashed file; a directory (trashed whole by a haven before v2) goes too."""
    try:
        if stat.S_ISDIR(path.lstat().st_mode):
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
