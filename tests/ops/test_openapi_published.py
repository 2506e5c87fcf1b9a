"""The OpenAPI document of each service is published under docs/openapi/ and is exactly what the
running service serves. Regenerate with ``.venv/bin/python -m devstack.openapi --write``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from shared.db import Database
from tests.support import create_app, running, settings_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"


@pytest.mark.parametrize("service", ["filing", "inspection", "credit", "reporting"])
async def test_published_openapi_matches_the_running_service(
    rollback_db: Callable[[str], Awaitable[Database]], service: str
) -> None:
    published = json.loads((DOCS / f"{service}.json").read_text())
    app = create_app(service, settings_for(service, run_background_workers=False), await rollback_db(service))
    async with running(app) as client:
        served = (await client.get("/openapi.json")).json()
    assert served == published, f"docs/openapi/{service}.json is stale: run python -m devstack.openapi --write"
    assert published["openapi"].startswith("3.")
    # every operation documents at least its success answer
    for path, operations in published["paths"].items():
        for method, operation in operations.items():
            assert operation.get("responses"), f"{method.upper()} {path} documents no response"
