"""Cross-origin sharing with the platform's pages (shared/app.py ``ScopedCors``): the pages' origin
may read and, with an officer's bearer token, write (the workbench's decisions); the public write
paths take no token; any other origin gets no CORS grant at all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from shared.db import Database
from tests.support import create_app, running, settings_for

PAGES = "http://127.0.0.1:8001"


def preflight(method: str, headers: str, origin: str = PAGES) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def test_the_pages_origin_may_write_with_a_bearer_token_and_the_public_form_without_one(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> None:
    db = await rollback_db("inspection")
    app = create_app("inspection", settings_for("inspection", run_background_workers=False, cors_origins=[PAGES]), db)
    async with running(app) as client:
        # the workbench's review of a task: a POST with the officer's token and a JSON body
        review = await client.options(
            "/v1/tasks/00000000-0000-0000-0000-000000000001/review",
            headers=preflight("POST", "authorization,content-type"),
        )
        assert review.status_code == 200
        assert review.headers["access-control-allow-origin"] == PAGES
        assert "POST" in review.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in review.headers  # tokens, never cookies

        # another site gets no grant, so a browser will not send its request
        stranger = await client.options(
            "/v1/tasks/00000000-0000-0000-0000-000000000001/review",
            headers=preflight("POST", "authorization,content-type", "https://evil.example"),
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers

        # the public complaint form: JSON without a token; a token there is not allowed across origins
        form = await client.options("/v1/public/complaints", headers=preflight("POST", "content-type"))
        assert form.status_code == 200
        with_token = await client.options("/v1/public/complaints", headers=preflight("POST", "authorization"))
        assert with_token.status_code == 400

        # what no page does is not granted: DELETE
        delete = await client.options(
            "/v1/tasks/00000000-0000-0000-0000-000000000001", headers=preflight("DELETE", "authorization")
        )
        assert delete.status_code == 400
