"""What the platform sends the public pages, as a phone on a weak signal receives it (issue 22):
pages and scripts gzipped, pages revalidated before each use, the libraries named with their
fingerprint kept for a year, the chart library trimmed, API answers gzipped and revalidated."""

from __future__ import annotations

import gzip
import re
import urllib.request

from tests.web.conftest import WebPlatform


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_pages_and_libraries_are_gzipped_with_cache_lifetimes(web_platform: WebPlatform) -> None:
    status, headers, body = _get(f"{web_platform.pages}/dashboard.html")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["cache-control"] == "no-cache"  # a page: asked for again (a 304) before each use
    page = gzip.decompress(body).decode()

    chart_library = re.search(r'<script defer src="(vendor/echarts\.min\.js\?v=[0-9a-f]{12})"></script>', page)
    assert chart_library, "the dashboard loads ECharts deferred, named with its fingerprint"
    status, headers, body = _get(f"{web_platform.pages}/{chart_library.group(1)}")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    # only what the dashboard draws: under ECharts' "common" build (715,020 bytes, 240,104 gzipped)
    assert len(gzip.decompress(body)) < 715_020 * 0.85
    assert len(body) < 220_000  # what a phone downloads

    for script in ("assets/dashboard.js", "assets/common.js", "assets/style.css"):
        status, headers, body = _get(f"{web_platform.pages}/{script}")
        assert headers["content-encoding"] == "gzip", script
        assert headers["cache-control"] == "no-cache", script


def test_api_answers_are_gzipped_and_revalidated(web_platform: WebPlatform) -> None:
    status, headers, body = _get(f"{web_platform.urls['filing']}/v1/public/institutions?page_size=100")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["cache-control"] == "private, no-cache"
    assert headers["etag"].startswith('W/"')
    assert b'"items"' in gzip.decompress(body)
