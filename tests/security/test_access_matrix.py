"""Route × role matrix: every route of every service declares who may call it, and the declaration
is what the service enforces.

Who may call a route is read from the route itself (``require_roles`` records its roles on the
dependency). A route that declares nobody must be listed in PUBLIC below, on purpose: a new route
that forgets its rule fails this test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from shared.db import Database
from tests.support import create_app, running, settings_for, token

SERVICES = ("filing", "inspection", "credit", "reporting")

# Routes anyone may call without a token. Anything else must declare its roles.
PUBLIC = [
    r"^/healthz$",
    r"^/readyz$",
    r"^/metrics$",
    r"^/v1/public/",
    r"^/v1/catalogue/",
    r"^/v1/quality/schemes",  # the assessment scheme itself is public
    r"^/v1/stats/",
    r"^/v1/ledger/checkpoint$",
    r"^/v1/ledger/public-key$",
    r"^/v1/ledger/checkpoints(/\{size\})?$",  # sizes and roots only: docs/ledger.md#historic-checkpoints
    r"^/\.well-known/ledger-verifier-key$",
    r"^/docs",
    r"^/openapi.json$",
    r"^/redoc",
    r"^/$",
]

CALLERS: dict[str, dict[str, str]] = {
    "anonymous": {},
    "filing_officer": token("filing_officer", subject="matrix-officer", districts=["440106"]),
    "supervisor": token("supervisor", subject="matrix-supervisor"),
    "inspector": token("inspector", subject="matrix-inspector"),
    "credit_officer": token("credit_officer", subject="matrix-credit"),
    "ops": token("ops", subject="matrix-ops"),
    "agency:market_regulation": token("agency:market_regulation", subject="matrix-amr"),
    "agency:no_such_agency": token("agency:no_such_agency", subject="matrix-unknown-agency"),
}


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        original = getattr(route, "original_router", None)  # FastAPI's included-router wrapper
        if original is not None:
            yield from _routes(original.routes)


def declared_roles(route: APIRoute) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(dependant: Any) -> None:
        for dependency in dependant.dependencies:
            roles = getattr(dependency.call, "allowed_roles", None)
            if roles:
                found.append(tuple(roles))
            walk(dependency)

    walk(route.dependant)
    return found


def allows(declared: list[tuple[str, ...]], caller: str) -> bool:
    def holds(role: str) -> bool:
        return caller == role or (role == "agency:*" and caller.startswith("agency:"))

    # several declarations on one route must all be satisfied
    return all(any(holds(r) for r in roles) for roles in declared)


def is_public(path: str) -> bool:
    return any(re.search(p, path) for p in PUBLIC)


def concrete(path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in {"year"}:
            return "2025"
        if name in {"version"}:
            return "v1"
        if name in {"sha256"}:
            return "0" * 64
        if name in {"receipt", "person_ref"}:
            return "a" * 64 if name == "person_ref" else "ABCDEFGHJK"
        if name in {"list", "list_name"}:
            return "serious_dishonesty"
        return str(uuid.uuid4())

    return re.sub(r"\{([a-z_]+)(?::[a-z]+)?\}", fill, path)


@pytest.fixture
async def apps(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> AsyncIterator[dict[str, tuple[FastAPI, httpx.AsyncClient]]]:
    started: dict[str, tuple[FastAPI, httpx.AsyncClient]] = {}
    contexts = []
    try:
        for service in SERVICES:
            db = await rollback_db(service)
            app = create_app(service, settings_for(service, run_background_workers=False), db)
            context = running(app)
            client = await context.__aenter__()
            contexts.append(context)
            started[service] = (app, client)
        yield started
    finally:
        for context in reversed(contexts):
            await context.__aexit__(None, None, None)


async def test_every_route_declares_its_callers_and_enforces_them(
    apps: dict[str, tuple[FastAPI, httpx.AsyncClient]],
) -> None:
    undeclared: list[str] = []
    violations: list[str] = []
    checked = 0
    for service, (app, client) in apps.items():
        for route in _routes(app.router.routes):
            declared = declared_roles(route)
            for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
                label = f"{service} {method} {route.path}"
                if not declared:
                    if not is_public(route.path):
                        undeclared.append(label)
                    continue
                for caller, headers in CALLERS.items():
                    response = await client.request(
                        method,
                        concrete(route.path),
                        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                        json={} if method in {"POST", "PUT", "PATCH"} else None,
                    )
                    checked += 1
                    code = (
                        response.json().get("error", {}).get("code")
                        if response.headers.get("content-type", "").startswith("application/json")
                        and isinstance(response.json(), dict)
                        else None
                    )
                    if caller == "anonymous":
                        if response.status_code != 401:
                            violations.append(f"{label} anonymous -> {response.status_code}")
                    elif allows(declared, caller):
                        # the role gate lets it through; the route may still refuse on its own rules
                        if response.status_code == 401 or code == "role_required":
                            violations.append(f"{label} {caller} (allowed) -> {response.status_code} {code}")
                        if response.status_code >= 500:
                            violations.append(f"{label} {caller} -> {response.status_code}")
                    elif response.status_code != 403 or code != "role_required":
                        violations.append(f"{label} {caller} (forbidden) -> {response.status_code} {code}")
    assert not undeclared, "routes that declare no callers and are not listed as public:\n" + "\n".join(undeclared)
    assert not violations, "\n".join(violations)
    assert checked > 300, checked
