"""shared/wire.py on a bare Starlette app: which answers are gzipped and tagged, and what a 304 is."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared.wire import WireMiddleware

ITEMS = [{"item_code": f"CHK-{n:03d}", "basis": "《托育机构管理规范（试行）》第十条" * 3} for n in range(70)]


async def task(_: Request) -> JSONResponse:
    return JSONResponse({"items": ITEMS})


async def small(_: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def stream(_: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for n in range(5):
            yield (f"第{n}段；" * 400).encode()

    return StreamingResponse(chunks(), media_type="text/javascript", headers={"ETag": '"static-1"'})


async def photo(_: Request) -> Response:
    return Response(b"\xff\xd8\xff" + b"\x00" * 5000 + b"\xff\xd9", media_type="image/jpeg")


async def create(_: Request) -> JSONResponse:
    return JSONResponse({"items": ITEMS}, status_code=201)


APP = WireMiddleware(
    Starlette(
        routes=[
            Route("/v1/task", task),
            Route("/v1/small", small),
            Route("/ui/app.js", stream),
            Route("/v1/photo", photo),
            Route("/v1/task", create, methods=["POST"]),
        ]
    )
)


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://test")


async def test_json_is_gzipped_tagged_and_304_when_the_tag_matches() -> None:
    async with client() as http:
        r = await http.get("/v1/task", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert int(r.headers["content-length"]) < len(r.content) / 5  # r.content is decoded
        assert r.json() == {"items": ITEMS}
        assert r.headers["cache-control"] == "private, no-cache"
        tag = r.headers["etag"]
        again = await http.get("/v1/task", headers={"Accept-Encoding": "gzip", "If-None-Match": f'"x", {tag}'})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == tag
        assert "content-encoding" not in again.headers
        plain = await http.get("/v1/task", headers={"Accept-Encoding": "identity", "If-None-Match": '"other"'})
        assert plain.status_code == 200
        assert "content-encoding" not in plain.headers
        assert plain.headers["etag"] == tag


async def test_what_is_not_gzipped() -> None:
    async with client() as http:
        tiny = await http.get("/v1/small", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in tiny.headers
        assert "etag" in tiny.headers
        image = await http.get("/v1/photo", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in image.headers
        assert "etag" not in image.headers
        created = await http.post("/v1/task", headers={"Accept-Encoding": "gzip"})
        assert created.status_code == 201
        assert "etag" not in created.headers  # only GETs are tagged
        head = await http.head("/v1/task", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in head.headers


async def test_a_stream_is_gzipped_as_it_passes_and_its_own_tag_turns_weak() -> None:
    async with client() as http:
        r = await http.get("/ui/app.js", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert "content-length" not in r.headers
        assert r.headers["etag"] == 'W/"static-1"'
        assert r.text == "".join(f"第{n}段；" * 400 for n in range(5))
