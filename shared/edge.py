"""The edge of every service: what a request may be before any route sees it, and what every
response says about how a browser may use it.

``EdgeGuard`` is a pure ASGI middleware (it never buffers a body):

* headers: all of them together at most ``max_header_bytes`` (431), the bearer token at most
  ``max_token_bytes`` (401 ``token_too_large``: never verified, never cached);
* the path and the query string: no control character, bidirectional control or unpaired
  surrogate in any of their decoded values (422, naming the parameter);
* the body: at most ``max_request_body_bytes`` (1 MiB), or the route's own limit for uploads
  (documents: 10 MiB). A declared ``Content-Length`` above the limit is answered 413 before a byte
  is read; a body streamed without one is counted as it arrives and cut off at the limit (413);
* security headers on every response (API and pages): ``Content-Security-Policy`` (no external
  origin; ``frame-ancestors 'none'``), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options:
  DENY``, ``Referrer-Policy: no-referrer``.

``client_ip`` is who the client is for rate limits: the connection's peer, unless the peer is one
of ``trusted_proxies``; then ``X-Forwarded-For`` is read from the right and the first address that
is not a trusted proxy is the client (the left part of the header is whatever the client wrote).

``PublicRateLimit`` is the abuse limit of every endpoint that needs no login (create_service_app
puts it on each of them): a token bucket per client address in process memory.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.text import string_problem

if TYPE_CHECKING:
    from fastapi import FastAPI

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Pages and Swagger UI: scripts only from files of the platform (no inline script, no eval); inline
# style attributes are allowed (ECharts' tooltips and a few legend dots use them).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src {img}; "
    "font-src 'self'; connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# A stored document is data: sandboxed, no script, no plugin, even if a browser were to render it.
DOCUMENT_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$")


def _json(status: int, code: str, message: str, field: str | None = None) -> tuple[int, bytes]:
    error: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
        error["errors"] = [{"field": field, "code": code, "message": message}]
    return status, json.dumps({"error": error}, ensure_ascii=False).encode("utf-8")


def trusted_networks(entries: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def _is_trusted(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: list[str], networks: list[Network]) -> str:
    """The client address: ``peer`` unless it is a trusted proxy; then the right-most address of
    ``X-Forwarded-For`` (all its headers, in order) that is not a trusted proxy."""
    if not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where an address should be: the proxy is the client we know
    return hops[0] if hops else peer


def client_ip(connection: HTTPConnection) -> str:
    settings = connection.app.state.settings
    networks: list[Network] | None = getattr(connection.app.state, "trusted_networks", None)
    if networks is None:
        networks = trusted_networks(settings.trusted_proxies)
        connection.app.state.trusted_networks = networks
    peer = connection.client.host if connection.client is not None else "unknown"
    return forwarded_client(peer, connection.headers.getlist("x-forwarded-for"), networks)


@dataclass(frozen=True)
class EdgeLimits:
    max_body_bytes: int
    max_header_bytes: int
    max_token_bytes: int
    # (method, path template such as /v1/entries/{entry_id}/evidence) -> the body limit of that route
    # instead of max_body_bytes
    route_body_limits: dict[tuple[str, str], int]
    connect_src: tuple[str, ...] = ()
    img_src: tuple[str, ...] = ()  # extra image origins of the pages: the map's licensed tile service


class _BodyTooLarge(StarletteHTTPException):
    """Raised by ``receive`` past the limit. An HTTPException, so that the route's body reading
    (FastAPI turns any other error into a 400) and the error handlers answer it as a 413."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class EdgeGuard:
    def __init__(self, app: ASGIApp, limits: EdgeLimits) -> None:
        self.app = app
        self.limits = limits
        # route templates (/v1/entries/{entry_id}/evidence) as patterns of concrete paths
        self._patterns = [
            (method, _template_pattern(template), limit)
            for (method, template), limit in limits.route_body_limits.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self._csp(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                ):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        refusal = self._refuse(scope)
        if refusal is not None:
            await self._answer(send_with_headers, *refusal)
            return
        limit = self._body_limit(scope["method"], scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._answer(send_with_headers, *_json(400, "bad_content_length", "Content-Length 无效"))
                return
            if int(declared) > limit:
                await self._answer(send_with_headers, *self._too_large(limit))
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_with_headers(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._answer(send_with_headers, *self._too_large(limit))
        except BaseExceptionGroup as group:  # anyio task groups wrap what a route raised
            if group.subgroup(_BodyTooLarge) is None or started:
                raise
            await self._answer(send_with_headers, *self._too_large(limit))

    def _body_limit(self, method: str, path: str) -> int:
        if not self._patterns:
            return self.limits.max_body_bytes
        for route_method, pattern, limit in self._patterns:
            if route_method == method and pattern.fullmatch(path):
                return limit
        return self.limits.max_body_bytes

    def _csp(self, scope: Scope) -> bytes:
        path: str = scope["path"]
        if path == "/ui" or path.startswith("/ui/") or path == "/docs" or path.startswith("/docs/"):
            connect = ["'self'"]
            host = _header(scope, b"host")
            if host and _HOST.match(host):
                hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
                scheme = "https" if scope.get("scheme") == "https" else "http"
                connect.append(f"{scheme}://{hostname}:*")
            connect += self.limits.connect_src
            img = ["'self'", "data:", *self.limits.img_src]
            return PAGE_CSP.format(connect=" ".join(connect), img=" ".join(img)).encode("latin-1")
        return API_CSP.encode("latin-1")

    def _refuse(self, scope: Scope) -> tuple[int, bytes] | None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if sum(len(name) + len(value) + 4 for name, value in headers) > self.limits.max_header_bytes:
            return _json(431, "headers_too_large", "请求头过大")
        authorization = _header(scope, b"authorization")
        if authorization is not None and len(authorization) > self.limits.max_token_bytes + 7:
            return _json(401, "token_too_large", "登录凭证过长")
        path = scope["path"]
        problem = string_problem(path)
        if problem is not None:
            return _json(422, problem[0], f"路径{problem[1]}", "path")
        query = scope.get("query_string", b"").decode("latin-1")
        if query:
            try:
                pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
            except UnicodeDecodeError:
                return _json(422, "invalid_unicode", "查询参数不是合法的 UTF-8 文本", "query")
            for name, value in pairs:
                problem = string_problem(name) or string_problem(value)
                if problem is not None:
                    field = name if string_problem(name) is None else "query"
                    return _json(422, problem[0], problem[1], field)
        raw_path = scope.get("raw_path")
        if isinstance(raw_path, bytes) and b"%" in raw_path:
            problem = string_problem(unquote(raw_path.decode("latin-1")))
            if problem is not None:
                return _json(422, problem[0], f"路径{problem[1]}", "path")
        return None

    @staticmethod
    def _too_large(limit: int) -> tuple[int, bytes]:
        shown = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{math.ceil(limit / 1024)} KB"
        return _json(413, "payload_too_large", f"请求内容不能超过 {shown}", "body")

    @staticmethod
    async def _answer(send: Send, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class PublicRateLimit:
    """Token buckets per (scope, client address), in this process: ``burst`` requests at once,
    refilled at ``per_minute``. Bounded: the least recently used buckets are dropped beyond
    ``max_buckets`` (a dropped bucket is a full one, so a flood of addresses cannot grow memory)."""

    def __init__(self, burst: int, per_minute: float, *, max_buckets: int = 100_000) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self.max_buckets = max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float | None = None) -> int:
        """0 if the request may go ahead, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        tokens, updated = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - updated) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0
        else:
            self._buckets[key] = (tokens, now)
            wait = max(1, math.ceil((1.0 - tokens) / self.rate))
        while len(self._buckets) > self.max_buckets:
            del self._buckets[next(iter(self._buckets))]
        return wait


PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
RATE_LIMITED = {"description": "rate_limited: too many requests from this address (Retry-After header)"}


def public_operations(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation that needs no login, probes aside: what the
    service's own OpenAPI document says (an operation without ``security``)."""
    return [
        (method.upper(), path)
        for path, operations in openapi.get("paths", {}).items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and not operation.get("security") and path not in PROBES
    ]


def document_rate_limits(app: FastAPI) -> None:
    """The OpenAPI document of ``app`` lists 429 for every public operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for method, path in public_operations(schema):
                schema["paths"][path][method.lower()].setdefault("responses", {}).setdefault("429", RATE_LIMITED)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class PublicRateLimitMiddleware:
    """The public rate limit on every operation that needs no login (found in the app's OpenAPI
    document at the first request, when every route is in place)."""

    def __init__(self, app: ASGIApp, limiter: PublicRateLimit) -> None:
        self.app = app
        self.limiter = limiter
        self._public: list[tuple[str, re.Pattern[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._is_public(scope):
            wait = self.limiter.take(client_ip(HTTPConnection(scope)))
            if wait:
                status, body = _json(429, "rate_limited", "请求过于频繁，请稍后再试")
                headers = [(b"content-type", b"application/json"), (b"retry-after", str(wait).encode())]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _is_public(self, scope: Scope) -> bool:
        if self._public is None:
            self._public = [(m, _template_pattern(p)) for m, p in public_operations(scope["app"].openapi())]
        method, path = scope["method"], scope["path"]
        return any(m == method and pattern.fullmatch(path) for m, pattern in self._public)


def _template_pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))
