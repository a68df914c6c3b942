"""The haven's ASGI application: every route in one table, each wrapped by its policy.

- ``/{tenant}/{repo}/o/{name}`` and ``/{tenant}/{repo}/list``: the object protocol, behind
  :class:`~kaikyo.server.auth.Guard` (token -> tenant -> scope -> handler)
- ``/healthz``: liveness and database reachability, no credentials
- ``/openapi.json``: the protocol description (kept in ``docs/openapi.json``)
- ``/metrics``: Prometheus text, served only on the operator's own listener
  (``kaikyo serve --metrics-listen``), never on the tenants' port: it names tenants

Middleware is pure ASGI (:class:`RequestMeter`: metrics and the access log), so bodies are
counted, never buffered.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

import anyio
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kaikyo.server.accesslog import AccessLog, AccessRecord
from kaikyo.server.admin import Haven
from kaikyo.server.auth import Guard, error_response
from kaikyo.server.handlers import RepoHandler
from kaikyo.server.metrics import CONTENT_TYPE, Metrics, registry_for, render
from kaikyo.server.openapi import openapi_document
from kaikyo.store import wire
from kaikyo.store.errors import InvalidName

PURGE_INTERVAL = 3600.0


class RequestMeter:
    """Counts each request into the metrics and writes its access-log line, with its tenant,
    status, body bytes and duration, without touching the bodies."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, haven: Haven, access_log: AccessLog | None = None
    ) -> None:
        self.app, self.metrics, self.haven, self.access_log = app, metrics, haven, access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = self.haven.clock
        arrived, started = clock.now(), clock.monotonic()
        counts = {"in": 0, "out": 0, "status": 500}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts["in"] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts["status"] = message["status"]
            elif message["type"] == "http.response.body":
                counts["out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            seconds = clock.monotonic() - started
            self._count(scope, counts, seconds)
            if self.access_log is not None:
                client = scope.get("client")
                self.access_log.write(
                    AccessRecord(
                        time=arrived,
                        remote=str(client[0]) if client else None,
                        tenant=scope.get("kaikyo.tenant"),
                        token_id=scope.get("kaikyo.token_id"),
                        method=str(scope["method"]),
                        path=str(scope["path"]),
                        status=counts["status"],
                        bytes_in=counts["in"],
                        bytes_out=counts["out"],
                        seconds=seconds,
                    )
                )

    def _count(self, scope: Scope, counts: dict[str, int], seconds: float) -> None:
        tenant = str(scope.get("kaikyo.tenant", "-"))
        status = str(counts["status"])
        method = method_label(str(scope["method"]))
        m = self.metrics
        m.inc(
            "kaikyo_haven_requests_total",
            (("tenant", tenant), ("method", method), ("status", status)),
        )
        m.inc("kaikyo_haven_received_bytes_total", (("tenant", tenant),), counts["in"])
        m.inc("kaikyo_haven_sent_bytes_total", (("tenant", tenant),), counts["out"])
        if counts["status"] >= 400:
            m.inc("kaikyo_haven_errors_total", (("tenant", tenant), ("status", status)))
        m.observe((("method", method),), seconds)


class ControlCharacterGuard:
    """Refuses (400, InvalidName) a request whose path holds a control character, before any
    route sees it. Route patterns end in ``$``, which also matches before a final newline:
    ``/o/config%0A`` would otherwise be taken for ``config``. No object name, tenant or
    repository name ever holds one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(c < " " or c == "\x7f" for c in scope["path"]):
            refusal = InvalidName(
                "the request path holds a control character",
                "object, tenant and repository names never do",
            )
            await error_response(refusal, str(scope["method"]))(scope, receive, send)
            return
        await self.app(scope, receive, send)


_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "POST", "OPTIONS"})


def method_label(method: str) -> str:
    """A bounded label: made-up methods must not grow the metrics without end."""
    return method if method in _METHODS else "OTHER"


class ByListener:
    """Send each request to the app of the listener it came in on (its local port)."""

    def __init__(self, main: ASGIApp, metrics: ASGIApp, metrics_port: int) -> None:
        self.main, self.metrics, self.metrics_port = main, metrics, metrics_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] == "http" and server and server[1] == self.metrics_port:
            await self.metrics(scope, receive, send)
        else:
            await self.main(scope, receive, send)


def create_app(
    haven: Haven,
    *,
    purge_interval: float = PURGE_INTERVAL,
    metrics_port: int | None = None,
    access_log: AccessLog | None = None,
) -> ASGIApp:
    """Build the haven's ASGI app over an open :class:`Haven`; with ``metrics_port``,
    requests arriving on that local port see only ``/metrics`` and ``/healthz``; with
    ``access_log``, every request on the tenants' port gets a line there."""
    guard = Guard(haven)
    repo = RepoHandler(haven)
    metrics = Metrics()
    registry = registry_for(metrics, haven.list_tenants)
    document = openapi_document()

    async def healthz(_: Request) -> Response:
        def ping() -> None:
            with haven.db.read() as conn:
                conn.execute(sa.text("SELECT 1"))

        await run_in_threadpool(ping)
        return JSONResponse({"status": "ok"})

    async def metrics_endpoint(_: Request) -> Response:
        body = await run_in_threadpool(render, registry)  # reads the tenants' usage
        return Response(body, media_type=CONTENT_TYPE)

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route(wire.LIST_ROUTE, guard.list_route(repo.list), methods=["GET"]),
        # HEAD first: a GET route also answers HEAD in Starlette.
        Route(wire.OBJECT_ROUTE, guard.object_route(repo.head), methods=["HEAD"]),
        Route(wire.OBJECT_ROUTE, guard.object_route(repo.get), methods=["GET"]),
        Route(wire.OBJECT_ROUTE, guard.object_route(repo.put), methods=["PUT"]),
        Route(wire.OBJECT_ROUTE, guard.object_route(repo.delete), methods=["DELETE"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_purge_forever, haven, purge_interval)
            yield
            tasks.cancel_scope.cancel()

    app = RequestMeter(
        ControlCharacterGuard(Starlette(routes=routes, lifespan=lifespan)),
        metrics,
        haven,
        access_log,
    )
    if metrics_port is None:
        return app
    operator = Starlette(
        routes=[
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    return ByListener(app, operator, metrics_port)


def _log(message: str) -> None:
    sys.stderr.write(f"kaikyo haven: {message}\n")
    sys.stderr.flush()


async def _purge_forever(haven: Haven, interval: float) -> None:
    """Purge expired trash now and then, by the haven's clock. A failure is logged and the
    next round comes all the same: one bad trash entry must not stop purging for good."""
    while True:
        try:
            result = await run_in_threadpool(haven.purge)
            for line in result.failed:
                _log(f"could not purge {line}")
        except Exception as exc:  # logged; the loop must outlive any one failure
            _log(f"trash purge failed: {type(exc).__name__}: {exc}")
        await anyio.sleep(interval)
