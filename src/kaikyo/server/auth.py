"""The outer layer of every repository route: credentials, tenant, scope, then the handler.

Order matters and mirrors rest-server: the bearer token is resolved to a principal, the
principal's tenant must be the one in the path (a token never reaches another tenant's
objects, whatever the URL says), the scope must allow the action, and only then does the
protocol handler run. Store errors become the wire's JSON error answer here, in one place, and
every mutating or refused request is written to the audit log.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kaikyo.server import audit, policy
from kaikyo.server.admin import Haven
from kaikyo.server.handlers import HttpRefusal
from kaikyo.server.objects import validate_segment
from kaikyo.server.principal import Principal
from kaikyo.store import wire
from kaikyo.store.errors import StoreAuthFailed, StoreError, StorePermissionDenied

Endpoint = Callable[[Request], Awaitable[Response]]
ObjectHandler = Callable[[Request, Principal, str, str], Awaitable[Response]]
ListHandler = Callable[[Request, Principal, str], Awaitable[Response]]

_ACTIONS = {
    "GET": policy.Action.READ,
    "HEAD": policy.Action.READ,
    "PUT": policy.Action.CREATE,
    "DELETE": policy.Action.DELETE,
}
MUTATING = frozenset({"PUT", "DELETE"})


def error_response(exc: StoreError, method: str) -> Response:
    status = exc.status if isinstance(exc, HttpRefusal) else wire.status_for(exc)
    body = wire.error_body(exc)
    if isinstance(exc, HttpRefusal):
        body["error"] = "Refused"
    # A HEAD answer has no body; the status alone tells the client what happened.
    if method == "HEAD":
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)


class RefusalSampler:
    """At most one audit row per remote address per ``window`` seconds for requests refused
    before any token was accepted: a client hammering with bad tokens (330/s were seen) or
    made-up tenant names must not grow the audit log at its own pace. Each row carries how
    many refusals it stands for. Thread-safe; holds at most ``max_remotes`` addresses."""

    def __init__(self, window: float = 60.0, max_remotes: int = 10_000) -> None:
        self.window, self.max_remotes = window, max_remotes
        self._seen: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def admit(self, remote: str, now: float) -> int:
        """0 if this refusal is only counted; else how many refusals the row stands for."""
        with self._lock:
            last, count = self._seen.get(remote, (float("-inf"), 0))
            if now - last < self.window:
                self._seen[remote] = (last, count + 1)
                return 0
            if len(self._seen) >= self.max_remotes:
                self._seen.clear()
            self._seen[remote] = (now, 0)
            return count + 1


class Guard:
    def __init__(self, haven: Haven) -> None:
        self.haven = haven
        self.anonymous_refusals = RefusalSampler()

    def _principal(self, request: Request) -> Principal:
        header = request.headers.get(wire.AUTHORIZATION, "")
        scheme, _, token = header.partition(" ")
        return self.haven.authenticate(token if scheme.lower() == "bearer" else None)

    def _record(
        self,
        request: Request,
        principal: Principal | None,
        exc: StoreError,
        *,
        tenant: str,
        repo: str,
        name: str,
    ) -> None:
        refused = isinstance(exc, StoreAuthFailed | StorePermissionDenied)
        if request.method not in MUTATING and not refused:
            return
        kind = wire.error_body(exc)["error"] if not isinstance(exc, HttpRefusal) else "Refused"
        remote = request.client.host if request.client else None
        action = {"PUT": "put", "DELETE": "delete"}.get(request.method, "read")
        holder = exc.holder if isinstance(exc, StoreAuthFailed) else None
        if principal is None and holder is not None:
            entry = audit.AuditEntry(
                ts=self.haven.clock.now(),
                action=action,
                result=kind,
                tenant=holder[0],
                token_id=holder[1],
                repo=repo[:64],
                object=name[:255],
                remote=remote,
            )
        elif principal is None:
            # No token was accepted: the tenant, repository and name are the caller's words,
            # not facts; one sampled row per address, under no tenant.
            count = self.anonymous_refusals.admit(remote or "-", self.haven.clock.now())
            if not count:
                return
            entry = audit.AuditEntry(
                ts=self.haven.clock.now(), action=action, result=f"{kind} x{count}", remote=remote
            )
        else:
            entry = audit.AuditEntry(
                ts=self.haven.clock.now(),
                action=action,
                result=kind,
                tenant=principal.tenant,
                token_id=principal.token_id,
                repo=repo[:64],
                object=name[:255],
                bytes=0,
                remote=remote,
            )
        with self.haven.db.write() as conn:
            audit.append(conn, entry)

    async def _run(
        self, request: Request, name: str, call: Callable[[Principal, str], Awaitable[Response]]
    ) -> Response:
        tenant = str(request.path_params["tenant"])
        repo = str(request.path_params["repo"])
        principal: Principal | None = None
        try:
            validate_segment("tenant", tenant)
            validate_segment("repository", repo)
            principal = await run_in_threadpool(self._principal, request)
            if principal.tenant != tenant:
                raise StorePermissionDenied(f"this token is not valid for tenant {tenant}")
            request.scope["kaikyo.tenant"] = principal.tenant
            request.scope["kaikyo.token_id"] = principal.token_id  # public: for the access log
            action = _ACTIONS.get(request.method, policy.Action.LIST)
            if not name:
                action = policy.Action.LIST
            overwrite = request.headers.get(wire.OVERWRITE_HEADER) == "1"
            if action is policy.Action.CREATE and overwrite:
                action = policy.Action.OVERWRITE
            policy.check(principal.scope, action, name)
            return await call(principal, repo)
        except StoreError as exc:
            record = functools.partial(
                self._record, request, principal, exc, tenant=tenant, repo=repo, name=name
            )
            await run_in_threadpool(record)
            return error_response(exc, request.method)

    def object_route(self, handler: ObjectHandler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            name = str(request.path_params["name"])
            return await self._run(request, name, lambda p, repo: handler(request, p, repo, name))

        return endpoint

    def list_route(self, handler: ListHandler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return await self._run(request, "", lambda p, repo: handler(request, p, repo))

        return endpoint
