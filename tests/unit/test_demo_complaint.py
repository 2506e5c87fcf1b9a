"""devstack/demo.py: the demo's parent complaint is posted once and then looked up once more; an
inspection service whose listing never shows it stops the demo with a clear error instead of posting
again and again (the lookup used to recurse without end). The inspection service here is an in-process
HTTP handler (no Kafka or PostgreSQL is involved in this exchange)."""

from __future__ import annotations

import json

import httpx
import pytest

from devstack.demo import Api, DemoError, Generator
from shared.settings import ServiceSettings


async def test_a_complaint_the_listing_never_shows_is_a_clear_error_after_one_post() -> None:
    posted: list[dict[str, str]] = []

    def inspection(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/public/complaints":
            posted.append(json.loads(request.content))
            return httpx.Response(201, json={"id": "c-1", "status": "received"})
        if request.method == "GET" and request.url.path == "/v1/complaints":
            return httpx.Response(200, json={"items": [], "total": 0})  # never lists it
        return httpx.Response(404, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(inspection), base_url="http://inspection") as client:
        generator = Generator(Api({"inspection": client}, ServiceSettings(environment="test")), scale=20, out=None)
        plan = generator.plans[0]
        generator.ids[plan.uscc] = "00000000-0000-0000-0000-000000000001"
        with pytest.raises(DemoError, match="not in the district's complaint list"):
            await generator.complaint(plan, "safety", "演示：投诉内容")
    assert len(posted) == 1, "posted once, not again on every lookup"
    assert posted[0]["description"] == "演示：投诉内容"
