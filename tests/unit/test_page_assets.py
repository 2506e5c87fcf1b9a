"""What /ui/ sends (shared/app.py PageAssets inside shared/wire.py, as every service mounts them):
text assets gzipped, pages and the platform's own scripts revalidated before each use, a library
named with its content's fingerprint kept for a year, and only while the fingerprint is its own."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from shared.app import IMMUTABLE, REVALIDATE, PageAssets
from shared.wire import WireMiddleware

PAGE = "<!doctype html><html lang='zh-CN'><head><title>托育地图</title></head><body>" + "<p>机构</p>" * 300
SCRIPT = "export const districts = [" + ",".join(f'"440{n:03d}"' for n in range(300)) + "];\n"
LIBRARY = "window.lib = {" + ",".join(f"f{n}: {n}" for n in range(400)) + "};\n"


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@pytest.fixture
def web(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "vendor").mkdir()
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "assets" / "directory.js").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "vendor" / "lib.js").write_text(LIBRARY, encoding="utf-8")
    return tmp_path


def client(web: Path) -> httpx.AsyncClient:
    app = WireMiddleware(Starlette(routes=[Mount("/ui", PageAssets(directory=web, html=True))]))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


GZIP = {"Accept-Encoding": "gzip"}


async def raw_get(http: httpx.AsyncClient, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The answer and its body as sent (httpx would otherwise undo the gzip)."""
    async with http.stream("GET", path, headers={**GZIP, **headers}) as response:
        return response, b"".join([chunk async for chunk in response.aiter_raw()])


async def test_the_page_is_gzipped_and_revalidated_before_each_use(web: Path) -> None:
    async with client(web) as http:
        response, body = await raw_get(http, "/ui/")
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(body).decode() == PAGE
        assert len(body) < len(PAGE.encode()) / 5
        assert response.headers["cache-control"] == REVALIDATE == "no-cache"
        etag = response.headers["etag"]

        again, body = await raw_get(http, "/ui/", **{"If-None-Match": etag})
        assert again.status_code == 304
        assert body == b""
        assert again.headers["cache-control"] == "no-cache"


async def test_own_scripts_are_gzipped_and_revalidated(web: Path) -> None:
    async with client(web) as http:
        response, body = await raw_get(http, "/ui/assets/directory.js")
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(body).decode() == SCRIPT
        assert response.headers["cache-control"] == "no-cache"
        # without gzip in the request, the same file as it is
        plain = await http.get("/ui/assets/directory.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.text == SCRIPT


async def test_a_fingerprinted_library_is_kept_for_a_year_while_the_fingerprint_is_its_own(web: Path) -> None:
    async with client(web) as http:
        response, body = await raw_get(http, f"/ui/vendor/lib.js?v={fingerprint(LIBRARY)}")
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(body).decode() == LIBRARY
        assert response.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"

        for address in ("/ui/vendor/lib.js", "/ui/vendor/lib.js?v=000000000000"):
            unnamed, _ = await raw_get(http, address)
            assert unnamed.headers["cache-control"] == "no-cache", address

        # a new build of the library: the old fingerprint no longer earns a year
        upgraded = LIBRARY.replace("f0: 0", "f0: 100")  # another size: seen whatever the mtime resolution
        (web / "vendor" / "lib.js").write_text(upgraded, encoding="utf-8")
        stale, body = await raw_get(http, f"/ui/vendor/lib.js?v={fingerprint(LIBRARY)}")
        assert stale.headers["cache-control"] == "no-cache"
        assert gzip.decompress(body).decode() == upgraded
        fresh, _ = await raw_get(http, f"/ui/vendor/lib.js?v={fingerprint(upgraded)}")
        assert fresh.headers["cache-control"] == IMMUTABLE
