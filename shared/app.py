"""The service application factory: one FastAPI app per service with the whole kit wired in.

Each service supplies its routers and its consumers; the factory adds error handling, metrics,
``/healthz``, ``/readyz``, ``/metrics``, the outbox relay and the consumer runners (as tasks inside
the API process), and waits until the service's Kafka topics exist (the admin step creates them:
services may not, docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import mimetypes
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.audit import audit_router, install_refusal_audit, install_write_audit
from shared.consumer import ConsumerRunner
from shared.db import Database, Timeouts
from shared.edge import EdgeGuard, EdgeLimits, PublicRateLimit, PublicRateLimitMiddleware, document_rate_limits
from shared.errors import install_error_handlers
from shared.handlers import Handlers
from shared.kafka import kafka_reachable, make_producer, missing_topics
from shared.kafka_access import PRINCIPALS
from shared.logging import configure_logging
from shared.metrics import CONTENT_TYPE_LATEST, HttpMetricsMiddleware, Metrics
from shared.outbox import Outbox, OutboxRelay
from shared.retention import prune_inbox, prune_outbox
from shared.settings import ServiceSettings
from shared.topics import dead_letter_topic, qualified
from shared.wire import WireMiddleware

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    """What a service's consumers and routes get from the kit (ids and handles, never ORM objects)."""

    settings: ServiceSettings
    db: Database
    outbox: Outbox
    metrics: Metrics


@dataclass
class ConsumerSpec:
    name: str
    topics: list[str]
    handlers: Handlers  # event type → handler (shared.handlers)


@dataclass
class PeriodicJob:
    """A background job run every ``interval_seconds`` inside the service (e.g. a deadline sweep).
    Jobs must be idempotent: several replicas may run them, and a crash may repeat one."""

    name: str
    interval_seconds: float
    run: Callable[[ServiceContext], Awaitable[None]]


@dataclass
class Runtime:
    context: ServiceContext
    relay: OutboxRelay
    consumers: list[ConsumerRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    topics_ready: asyncio.Event = field(default_factory=asyncio.Event)


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: list[APIRouter],
    consumers: Callable[[ServiceContext], list[ConsumerSpec]] | None = None,
    jobs: list[PeriodicJob] | None = None,
    database: Database | None = None,
    body_limits: dict[tuple[str, str], int] | None = None,
) -> FastAPI:
    """``body_limits``: (method, path) of a route reading a larger body than
    ``max_request_body_bytes`` (an upload), and its limit."""
    metrics = Metrics(settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.environment != "test":
            configure_logging(settings.service_name, settings.log_level)
        log.info("starting", extra={"service": settings.service_name, "loop": event_loop_implementation()})
        db = database
        if db is None:
            url = settings.database_url
            if url is None:
                # Services never start a database themselves: the run command (or the deployment)
                # creates, migrates and names it, so production code needs nothing of the dev harness.
                raise RuntimeError(
                    f"{settings.setting_name('database_url')} is not set: the runtime role's database URL "
                    "(./dev run sets it for the local platform)"
                )
            db = Database(url, pool_size=settings.db_pool_size, timeouts=Timeouts.of(settings))
        outbox = Outbox(source=settings.source, namespace=settings.kafka_namespace)
        context = ServiceContext(settings=settings, db=db, outbox=outbox, metrics=metrics)
        relay = OutboxRelay(
            db,
            lambda: make_producer(
                settings.kafka_access(),
                client_id=f"{settings.service_name}-outbox",
                request_timeout_ms=settings.kafka_request_timeout_ms,
            ),
            metrics,
            service=settings.service_name,
            send_timeout=settings.kafka_delivery_timeout_seconds,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval_seconds,
        )
        db.on_outbox_commit(relay.wake)
        runtime = Runtime(context=context, relay=relay)
        specs = consumers(context) if consumers else []
        for spec in specs:
            runtime.consumers.append(
                ConsumerRunner(
                    name=spec.name,
                    db=db,
                    metrics=metrics,
                    kafka=settings.kafka_access(),
                    topics=spec.topics,
                    handlers=spec.handlers,
                    namespace=settings.kafka_namespace,
                    max_attempts=settings.consumer_max_attempts,
                    retry_backoff=settings.consumer_retry_backoff_seconds,
                    session_timeout_ms=settings.consumer_session_timeout_ms,
                    request_timeout_ms=settings.kafka_consumer_request_timeout_ms,
                    producer_request_timeout_ms=settings.kafka_request_timeout_ms,
                    delivery_timeout=settings.kafka_delivery_timeout_seconds,
                )
            )
        app.state.db = db
        app.state.outbox = outbox
        app.state.context = context
        app.state.runtime = runtime
        if settings.run_background_workers:
            runtime.tasks.append(asyncio.create_task(_start_messaging(runtime, specs)))
            for job in [*_pruning_jobs(settings), *(jobs or [])]:
                runtime.tasks.append(asyncio.create_task(_run_periodically(job, context)))
        try:
            yield
        finally:
            await relay.stop()
            for runner in runtime.consumers:
                await runner.stop()
            for task in runtime.tasks:
                task.cancel()
            for task in runtime.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 20)
            if database is None:
                await db.dispose()

    docs = settings.docs_enabled if settings.docs_enabled is not None else settings.environment != "production"
    # No default_response_class (ORJSONResponse or any other): FastAPI writes a response_model
    # route's answer with pydantic-core straight to bytes only while none is set; with one, every
    # answer goes through jsonable_encoder first (~20× the CPU for an InstitutionOut).
    app = ServiceApp(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,  # served below from the platform's own copy of Swagger UI, never a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    install_write_audit(app)  # a committed write leaves an audit row, committed with it
    install_refusal_audit(app)  # refused writes leave an audit row and a log line
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(ScopedCors, origins=settings.cors_origins)
    # The service's own routes first: a request is matched against the routes in order, and the
    # busy paths are the service's, not the probes' (the order changes nothing else: no path of
    # one matches a path of the other).
    for router in routers:
        app.include_router(router)
    app.include_router(_ops_router())
    app.include_router(audit_router())
    document_rate_limits(app)
    if docs:
        _serve_docs(app, title, settings.docs_assets_dir or str(DEFAULT_DOCS_ASSETS))
    app.add_middleware(
        PublicRateLimitMiddleware, limiter=PublicRateLimit(settings.public_rate_burst, settings.public_rate_per_minute)
    )
    # gzip and ETag/304 on text answers (shared/wire.py): phones on a weak signal (docs/inspection.md)
    app.add_middleware(WireMiddleware)
    # outermost: limits and security headers apply to every answer, errors included
    app.add_middleware(
        EdgeGuard,
        limits=EdgeLimits(
            max_body_bytes=settings.max_request_body_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_token_bytes=settings.max_token_bytes,
            route_body_limits=dict(body_limits or {}),
            connect_src=tuple(settings.csp_connect_src),
            img_src=tuple(settings.csp_img_src),
        ),
    )
    if settings.web_dir is not None and Path(settings.web_dir).is_dir():
        # the platform's static pages (web/), served by one service (the run command picks filing)
        app.mount("/ui", PageAssets(directory=settings.web_dir, html=True), name="ui")

        @app.get("/", include_in_schema=False)
        async def home() -> RedirectResponse:
            return RedirectResponse("/ui/")

    return app


def event_loop_implementation() -> str:
    """``uvloop`` or ``asyncio``: the running loop's own type, whatever the command asked for."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"


def http_implementation(receive: Receive) -> str:
    """``httptools`` or ``h11`` when uvicorn serves the request (its ``receive`` is a method of the
    protocol module's request cycle); ``other`` otherwise (a test client's transport)."""
    module = type(getattr(receive, "__self__", None)).__module__
    for name in ("httptools", "h11"):
        if module == f"uvicorn.protocols.http.{name}_impl":
            return name
    return "other"


class ServiceApp(FastAPI):
    """The service's FastAPI app; at its first HTTP request it records what serves it (the event
    loop, the HTTP parser) in ``server_implementation``, the log and ``childcare_server_info`` on
    /metrics: the proof that a deployment's ``--loop uvloop --http httptools`` is in force."""

    server_implementation: dict[str, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.server_implementation is None and scope["type"] == "http":
            seen = {"loop": event_loop_implementation(), "http": http_implementation(receive)}
            self.server_implementation = seen
            self.state.metrics.server_info.labels(**seen).set(1)
            log.info("serving HTTP", extra=seen)
        await super().__call__(scope, receive, send)


DEFAULT_DOCS_ASSETS = Path(__file__).resolve().parents[1] / "web" / "vendor" / "swagger-ui"
_DOCS_INIT = Path(__file__).resolve().parent / "static" / "swagger-init.js"
# What /ui/ serves: the pages and their assets. Not the npm files, not dot files, not node_modules.
PAGE_SUFFIXES = frozenset(
    {".html", ".js", ".css", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".txt", ".webmanifest"}
)
# the web app manifest of an installable page (the inspectors' app, web/inspector/)
mimetypes.add_type("application/manifest+json", ".webmanifest")
PAGE_EXCLUDED = frozenset({"node_modules", "package.json", "package-lock.json", "vendor.mjs"})


# The public pages' only cross-origin writes: the complaint form (投诉) posts from the pages' origin.
PUBLIC_WRITE_PATHS = frozenset({"/v1/public/complaints"})


class ScopedCors:
    """Sharing with the platform's pages on another origin: they may GET with a bearer token, and the
    officers' workbench (/ui/work/) may POST/PATCH with one (a decision, a review, a triage); a bearer
    token is never sent by the browser on its own (no cookies: allow_credentials stays off), so no other
    site can make an officer's browser write. The public write paths take JSON POSTs without a token
    (no Authorization header allowed)."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.read = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
        self.write = CORSMiddleware(
            app, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["Content-Type"], max_age=600
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        public_write = scope["type"] == "http" and scope["path"] in PUBLIC_WRITE_PATHS
        await (self.write if public_write else self.read)(scope, receive, send)


# How long a browser keeps what /ui/ serves (issue 22). Pages and the platform's own scripts are
# asked for again before each use ("no-cache": a 304 with the ETag costs a round trip, no body), so a
# deployment is seen at once and a page never runs with scripts of another version. A file requested
# with ?v=<the first 12 hex of its content's SHA-256> (the pages' heads name the vendor/ libraries so,
# written by web/heads.mjs) is never anything else under that address: a year, immutable. A stale
# fingerprint is served like an unfingerprinted file, never kept.
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


def content_fingerprint(path: str | os.PathLike[str], stat_result: os.stat_result) -> str:
    """The first 12 hex of the file's SHA-256, remembered while its size and mtime stay the same."""
    key = (os.fspath(path), stat_result.st_mtime_ns, stat_result.st_size)
    if key not in _FINGERPRINTS:
        if len(_FINGERPRINTS) > 1024:
            _FINGERPRINTS.clear()
        with open(path, "rb") as file:
            _FINGERPRINTS[key] = hashlib.file_digest(file, "sha256").hexdigest()[:12]
    return _FINGERPRINTS[key]


_FINGERPRINTS: dict[tuple[str, int, int], str] = {}


class PageAssets(StaticFiles):
    """StaticFiles limited to page assets (PAGE_SUFFIXES), never the npm or dot files beside them,
    with a cache lifetime on every answer (REVALIDATE, IMMUTABLE); shared/wire.py gzips the text."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        wanted = QueryParams(scope.get("query_string", b"")).get("v")
        fresh = wanted is not None and wanted == content_fingerprint(full_path, stat_result)
        response.headers["cache-control"] = IMMUTABLE if fresh and status_code == 200 else REVALIDATE
        return response

    def get_path(self, scope: Scope) -> str:
        path = super().get_path(scope)
        parts = [p for p in path.replace("\\", "/").split("/") if p not in {"", "."}]
        if any(p in PAGE_EXCLUDED or p.startswith(".") for p in parts):
            raise StarletteHTTPException(status_code=404)
        if parts and "." in parts[-1] and Path(parts[-1]).suffix.lower() not in PAGE_SUFFIXES:
            raise StarletteHTTPException(status_code=404)
        return path


def _serve_docs(app: FastAPI, title: str, assets_dir: str) -> None:
    """/docs: Swagger UI from the platform's own files (web/vendor/swagger-ui, vendored from npm by
    web/package.json), started by a script file rather than an inline script (the page CSP forbids
    inline scripts)."""
    page = (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} — API</title>"
        '<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>'
        '<body><div id="swagger-ui"></div>'
        '<script src="/docs/assets/swagger-ui-bundle.js"></script>'
        '<script src="/docs/assets/swagger-init.js"></script></body></html>'
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/assets/swagger-init.js", include_in_schema=False)
    async def swagger_init() -> FileResponse:
        return FileResponse(_DOCS_INIT, media_type="text/javascript")

    if Path(assets_dir).is_dir():
        app.mount("/docs/assets", PageAssets(directory=assets_dir), name="docs-assets")


def _needed_topics(settings: ServiceSettings, specs: list[ConsumerSpec]) -> list[str]:
    """Every topic this service writes, reads or dead-letters to (qualified by its namespace)."""
    owned = PRINCIPALS[settings.service_name].writes if settings.service_name in PRINCIPALS else ()
    names = [qualified(settings.kafka_namespace, t) for t in owned]
    for spec in specs:
        names += [qualified(settings.kafka_namespace, t) for t in spec.topics]
        names.append(dead_letter_topic(settings.kafka_namespace, spec.name))
    return sorted(set(names))


async def _start_messaging(runtime: Runtime, specs: list[ConsumerSpec]) -> None:
    settings = runtime.context.settings
    needed = _needed_topics(settings, specs)
    delay = 0.5
    while True:  # Kafka (or the admin step) may come after us; /readyz says "not ready" meanwhile
        try:
            missing = await missing_topics(settings.kafka_access(), needed)
            if not missing:
                break
            log.warning("waiting for topics the admin step creates", extra={"missing": missing})
        except Exception as exc:
            log.warning("Kafka not reachable; retrying", extra={"error": f"{type(exc).__name__}: {exc}"})
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10)
    runtime.topics_ready.set()
    loop_tasks = [asyncio.create_task(runtime.relay.run())]
    loop_tasks += [asyncio.create_task(runner.run()) for runner in runtime.consumers]
    runtime.tasks.extend(loop_tasks)


def _pruning_jobs(settings: ServiceSettings) -> list[PeriodicJob]:
    """Every service's own jobs: published outbox rows past their retention are deleted, and inbox
    ids past theirs when the deployment sets one (shared.retention)."""

    async def outbox(ctx: ServiceContext) -> None:
        await prune_outbox(ctx)

    async def inbox(ctx: ServiceContext) -> None:
        await prune_inbox(ctx)

    jobs = [PeriodicJob(name="outbox_prune", interval_seconds=settings.outbox_prune_interval_seconds, run=outbox)]
    if settings.inbox_retention_seconds is not None:
        jobs.append(PeriodicJob(name="inbox_prune", interval_seconds=settings.inbox_prune_interval_seconds, run=inbox))
    return jobs


async def _run_periodically(job: PeriodicJob, context: ServiceContext) -> None:
    while True:
        try:
            await job.run(context)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic job failed", extra={"job": job.name})
        await asyncio.sleep(job.interval_seconds)


def _ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Process is up")
    async def healthz(request: Request) -> dict[str, str]:
        return {"status": "ok", "service": request.app.state.settings.service_name}

    @router.get("/readyz", summary="Database and Kafka reachable, topics created")
    async def readyz(request: Request) -> JSONResponse:
        settings: ServiceSettings = request.app.state.settings
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks: dict[str, str] = {}
        try:
            # bounded by the pool and connect timeouts too, whichever is shorter
            await asyncio.wait_for(request.app.state.db.ping(), min(3.0, settings.db_pool_timeout_seconds))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["kafka"] = "ok" if await kafka_reachable(settings.kafka_access()) else "unreachable"
        if settings.run_background_workers:
            checks["topics"] = "ok" if runtime is not None and runtime.topics_ready.is_set() else "pending"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "service": settings.service_name, "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
