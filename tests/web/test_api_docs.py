"""/docs (Swagger UI) of every service in headless Chromium, under the page's own Content-Security-Policy
(scripts from the platform's files only, no inline script, no eval): the bundle served from
web/vendor/swagger-ui/ starts, reads the service's /openapi.json and shows every operation; nothing
is loaded from outside the machine and the browser reports no policy violation. Screenshots of the
filing service's /docs on a desktop and on a phone go to the artifacts (docs/screenshots/ keeps a copy)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.web.conftest import PageFactory, WebPlatform, screenshot_path, wait_for_js

OPERATIONS = "document.querySelectorAll('#swagger-ui .opblock').length"


def _operations(web_platform: WebPlatform, service: str) -> list[tuple[str, str]]:
    with urllib.request.urlopen(f"{web_platform.urls[service]}/openapi.json", timeout=10) as response:
        doc = json.loads(response.read())
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return [(m.upper(), path) for path, ops in doc["paths"].items() for m in ops if m in methods]


async def _open_docs(page: Any, url: str, expected: int) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    answer = await page.goto(url)
    assert answer is not None
    assert answer.status == 200
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self';" in csp, csp
    assert "unsafe-eval" not in csp, csp
    await wait_for_js(page, f"{OPERATIONS} >= {expected}", within_ms=30_000)
    return violations


async def test_swagger_ui_renders_every_operation_of_every_service(
    web_platform: WebPlatform, pages: PageFactory
) -> None:
    for service in ("filing", "inspection", "credit", "reporting"):
        operations = _operations(web_platform, service)
        assert len(operations) >= 5, service
        page = await pages()
        violations = await _open_docs(page, f"{web_platform.urls[service]}/docs", len(operations))
        shown = await page.evaluate(
            "[...document.querySelectorAll('#swagger-ui .opblock')].map(b => ["
            "b.querySelector('.opblock-summary-method').textContent.trim(),"
            "b.querySelector('.opblock-summary-path').getAttribute('data-path')])"
        )
        # every operation, under each of its tags (an operation with two tags is shown twice)
        assert {tuple(op) for op in shown} == set(operations), service
        assert violations == [], f"{service} /docs broke the page's Content-Security-Policy: {violations}"
        # the operation opens and shows its parameters and answers (rendered from the document, no request)
        first = page.locator("#swagger-ui .opblock").first
        await first.locator(".opblock-summary").click()
        await first.locator(".responses-wrapper").wait_for()
        if service == "filing":
            await page.screenshot(path=screenshot_path("docs-filing.png"), full_page=False)
    local = [url for url in pages.log.local if "/docs/assets/" in url]
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in local)


async def test_swagger_ui_on_a_phone(web_platform: WebPlatform, pages: PageFactory) -> None:
    operations = _operations(web_platform, "filing")
    page = await pages(width=390, height=844, mobile=True)
    violations = await _open_docs(page, f"{web_platform.urls['filing']}/docs", len(operations))
    assert violations == []
    await page.screenshot(path=screenshot_path("docs-filing-phone.png"), full_page=False)
