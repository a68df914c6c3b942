"""The object protocol (see :mod:`kaikyo.store.wire`) for one tenant's repository.

Handlers receive an already authenticated and authorized
:class:`~kaikyo.server.principal.Principal` (see :mod:`kaikyo.server.auth`); they know how to
store objects, account for them and stream them, not who may do what. Blocking work (fsync,
database, file reads) runs in worker threads so the event loop keeps serving other transfers.
Request and response bodies are streamed in chunks: memory per request stays bounded whatever
the object size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from kaikyo.server import audit, locks, quota, tombstones
from kaikyo.server.admin import Haven
from kaikyo.server.objects import PendingObject, expected_sha256
from kaikyo.server.policy import delete_is_delayed, is_lock
from kaikyo.server.principal import Principal
from kaikyo.store import wire
from kaikyo.store.errors import ObjectExists, ObjectNotFound, StoreCorrupt, StoreError

READ_CHUNK = 1024 * 1024
CONFIG = "config"


class HttpRefusal(StoreError):
    """A refusal at the HTTP level (no store error kind): missing length, body too large."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RepoHandler:
    def __init__(self, haven: Haven) -> None:
        self.haven = haven

    def _content_length(self, request: Request) -> int:
        size = wire.parse_count(request.headers.get("content-length"))
        if size is None:
            raise HttpRefusal(411, "a Content-Length header of ASCII digits is required")
        if size > self.haven.settings.max_body:
            raise HttpRefusal(
                413,
                f"object of {size} bytes exceeds the haven's limit of "
                f"{self.haven.settings.max_body}",
            )
        return size

    def _audit(
        self,
        p: Principal,
        action: str,
        result: str,
        *,
        repo: str,
        name: str,
        nbytes: int,
        remote: str | None,
    ) -> None:
        with self.haven.db.write() as conn:
            audit.append(
                conn,
                audit.AuditEntry(
                    ts=self.haven.clock.now(),
                    action=action,
                    result=result,
                    tenant=p.tenant,
                    token_id=p.token_id,
                    repo=repo,
                    object=name,
                    bytes=nbytes,
                    remote=remote,
                ),
            )

    def _reserve(self, p: Principal, repo: str, name: str, nbytes: int) -> None:
        """Reserve quota (and for a lock, its record: size, count, owner) before any byte;
        refuse a name this repository deleted (a replay, see kaikyo.server.tombstones)."""
        with self.haven.db.write() as conn:
            if tombstones.applies(p.verify_names, name):
                tombstones.refuse_if_buried(conn, p.tenant_id, repo, name)
            if is_lock(name):
                exists = self.haven.area.store(p.tenant, repo).exists(CONFIG)
                locks.check_create(
                    conn, p, repo, nbytes, self.haven.settings.max_locks_per_token, exists
                )
                locks.record(conn, p, repo, name, nbytes, self.haven.clock.now())
            quota.reserve(conn, p.tenant_id, nbytes, 1)

    def _release(self, p: Principal, repo: str, name: str, nbytes: int) -> None:
        with self.haven.db.write() as conn:
            if is_lock(name):
                locks.forget(conn, p.tenant_id, repo, name)
            quota.release(conn, p.tenant_id, nbytes, 1)

    def _replace_old(self, p: Principal, repo: str, name: str) -> None:
        try:
            self.haven.trash.move_in(
                self.haven.db,
                p.tenant_id,
                p.tenant,
                repo=repo,
                name=name,
                now=self.haven.clock.now(),
                token_id=p.token_id,
            )
        except ObjectNotFound:
            pass

    async def _receive(self, request: Request, pending: PendingObject) -> None:
        """Stream the body into ``pending``; a body that sends nothing for the body timeout
        is dropped, so one byte and then silence cannot hold a reservation for good.

        One cancel scope whose deadline each chunk pushes back (a scope per chunk cost the
        haven twice its CPU per uploaded byte on loopback)."""
        timeout = self.haven.settings.body_timeout
        with anyio.CancelScope(deadline=anyio.current_time() + timeout) as scope:
            async for chunk in request.stream():
                pending.write(chunk)
                scope.deadline = anyio.current_time() + timeout
            return
        raise HttpRefusal(
            408,
            f"the body of {pending.name} sent nothing for {timeout:.0f} s; "
            f"dropped after {pending.received} bytes",
        )

    async def put(self, request: Request, p: Principal, repo: str, name: str) -> Response:
        overwrite = request.headers.get(wire.OVERWRITE_HEADER) == "1"
        want = expected_sha256(name, p.verify_names)
        size = self._content_length(request)
        store = self.haven.area.store(p.tenant, repo)
        if not overwrite and await run_in_threadpool(store.exists, name):
            raise ObjectExists(f"object exists: {name}")
        await run_in_threadpool(self._reserve, p, repo, name, size)
        pending: PendingObject = await run_in_threadpool(
            self.haven.area.begin_put, p.tenant, repo, name, size, want
        )
        try:
            await self._receive(request, pending)
            # Checked and durable before anything is replaced: an overwrite whose body is cut
            # or does not match its name leaves the old object where it was.
            await run_in_threadpool(pending.seal)
            if overwrite:
                await run_in_threadpool(self._replace_old, p, repo, name)
            await run_in_threadpool(pending.publish, self.haven.clock, overwrite)
        except ClientDisconnect:
            pending.abort()
            await run_in_threadpool(self._release, p, repo, name, size)
            raise StoreCorrupt(f"upload of {name} was cut after {pending.received} bytes") from None
        except BaseException:
            pending.abort()
            await run_in_threadpool(self._release, p, repo, name, size)
            raise
        await run_in_threadpool(
            lambda: self._audit(
                p, "put", "ok", repo=repo, name=name, nbytes=size, remote=_remote(request)
            )
        )
        return Response(status_code=201)

    async def head(self, request: Request, p: Principal, repo: str, name: str) -> Response:
        info = await run_in_threadpool(self.haven.area.store(p.tenant, repo).stat, name)
        # repr: the shortest text that reads back as the same float, so HEAD and the listing
        # (JSON) report exactly the same receive time.
        headers = {
            "content-length": str(info.size),
            wire.MTIME_HEADER: repr(info.mtime),
            "content-type": "application/octet-stream",
        }
        return Response(status_code=200, headers=headers)

    async def get(self, request: Request, p: Principal, repo: str, name: str) -> Response:
        path = self.haven.area.repo_root(p.tenant, repo) / name
        store = self.haven.area.store(p.tenant, repo)
        info = await run_in_threadpool(store.stat, name)
        start, end, status = 0, info.size, 200
        range_header = request.headers.get("range")
        if range_header:
            start, end = wire.parse_range(range_header, info.size)
            status = 206
        headers = {"content-length": str(end - start), "accept-ranges": "bytes"}
        if status == 206:
            headers["content-range"] = f"bytes {start}-{end - 1}/{info.size}"
        if end - start <= READ_CHUNK:
            data = await run_in_threadpool(store.get, name, start, end - start)
            return Response(
                data, status_code=status, headers=headers, media_type="application/octet-stream"
            )
        try:
            fd = await run_in_threadpool(os.open, path, os.O_RDONLY)
        except FileNotFoundError:
            raise ObjectNotFound(f"object not found: {name}") from None
        return StreamingResponse(
            _read_file(fd, start, end),
            status_code=status,
            headers=headers,
            media_type="application/octet-stream",
        )

    async def delete(self, request: Request, p: Principal, repo: str, name: str) -> Response:
        expected_sha256(name, verify=False)
        if delete_is_delayed(name):
            await run_in_threadpool(
                lambda: self.haven.trash.move_in(
                    self.haven.db,
                    p.tenant_id,
                    p.tenant,
                    repo=repo,
                    name=name,
                    now=self.haven.clock.now(),
                    token_id=p.token_id,
                    bury=tombstones.applies(p.verify_names, name),
                )
            )
        else:
            await run_in_threadpool(self._delete_lock, p, repo, name)
        await run_in_threadpool(
            lambda: self._audit(
                p, "delete", "ok", repo=repo, name=name, nbytes=0, remote=_remote(request)
            )
        )
        return Response(status_code=204)

    def _delete_lock(self, p: Principal, repo: str, name: str) -> None:
        """Locks are coordination state, not data: removed at once, by their maker or an
        admin only."""
        store = self.haven.area.store(p.tenant, repo)
        with self.haven.db.write() as conn:
            locks.check_delete(conn, p, repo, name)
            size = store.stat(name).size
            store.delete(name)
            locks.forget(conn, p.tenant_id, repo, name)
            quota.release(conn, p.tenant_id, size, 1)
            if tombstones.applies(p.verify_names, name):
                tombstones.bury(conn, p.tenant_id, repo, name, self.haven.clock.now())

    async def list(self, request: Request, p: Principal, repo: str) -> Response:
        prefix = request.query_params.get("prefix", "")
        store = self.haven.area.store(p.tenant, repo)

        def collect() -> list[str]:
            return [
                json.dumps({"name": o.name, "size": o.size, "mtime": o.mtime}) + "\n"
                for o in store.list(prefix)
            ]

        lines = await run_in_threadpool(collect)
        return Response("".join(lines), media_type=wire.LIST_CONTENT_TYPE)


def _read_file(fd: int, start: int, end: int) -> Iterator[bytes]:
    """Yield ``[start, end)`` of an open file in chunks; closes the file when done."""
    try:
        pos = start
        while pos < end:
            chunk = os.pread(fd, min(READ_CHUNK, end - pos), pos)
            if not chunk:
                raise StoreCorrupt("object shrank while it was being read")
            pos += len(chunk)
            yield chunk
    finally:
        os.close(fd)


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None
