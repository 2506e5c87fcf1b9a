"""Findings 9–13 of issue 16, each against the services running on real Kafka and PostgreSQL:

* 9  control characters, bidi overrides, invisible names and unbounded integers are 422s, never
     500s; database errors are logged without the statement's parameters;
* 10 body (413 before reading), header (431) and token (401) size limits, a maximum token lifetime,
     a rate limit on every public endpoint;
* 11 X-Forwarded-For only from trusted proxies, right-most untrusted address;
* 12 security headers, /docs from the platform's own files (off in production), /ui/ serves page
     assets only, documents as attachments and checked as whole files;
* 13 invalid JSON names the field ``body``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text
from starlette.requests import Request

from devstack.kafka import LocalKafka
from shared import auth
from shared.app import DEFAULT_DOCS_ASSETS
from shared.auth import mint_token
from shared.db import Database
from shared.edge import forwarded_client, trusted_networks
from shared.errors import _unhandled_handler
from shared.logging import JsonFormatter
from shared.settings import ServiceSettings
from tests.filing.support import filing_body, upload_documents
from tests.support import create_app, running, settings_for, token

ROOT = Path(__file__).resolve().parents[2]
OFFICER = token("filing_officer", subject="hostile-officer", districts=["440106"])
PLANTED_ID = "440106199001018779"


@asynccontextmanager
async def services(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str], **overrides: dict[str, Any]
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """filing and inspection, each with its own database, with per-service setting overrides."""
    async with AsyncExitStack() as stack:
        clients = {}
        for service in ("filing", "inspection"):
            db = Database(fresh_db(service), pool_size=3)
            stack.push_async_callback(db.dispose)
            settings = settings_for(
                service,
                kafka_bootstrap_servers=kafka.bootstrap,
                kafka_namespace=namespace,
                **overrides.get(service, {}),
            )
            clients[service] = await stack.enter_async_context(running(create_app(service, settings, db)))
        yield clients


def _error(answer: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()["error"]
    return body


def _pdf(note: str) -> bytes:
    return f"%PDF-1.7\n% {note}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".encode()


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


async def test_finding_9_hostile_strings_and_integers_are_422s_and_logs_carry_no_parameters(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    async with services(kafka, namespace, fresh_db) as c:
        filing = c["filing"]
        some_id = "00000000-0000-0000-0000-000000000001"
        cases = [
            ("POST", f"/v1/institutions/{some_id}/staff", {"name": "张\x00三"}, "name", "control_characters"),
            ("POST", f"/v1/institutions/{some_id}/changes", {"address": "天河路\x00 1 号"}, "address", None),
            ("POST", "/v1/institutions", {"name": "阳光\x00托育"}, "name", "control_characters"),
            ("POST", "/v1/institutions", {"name": "阳光托育\u202e心中"}, "name", "bidi_control"),
            ("POST", "/v1/institutions", {"name": "阳光\u200b托育中心"}, "name", "invisible_characters"),
            ("POST", "/v1/institutions", {"name": "\u200b\u3000\u200c"}, "name", "invisible_characters"),
            ("POST", "/v1/institutions", {"name": "\u3000\u00a0\u3000"}, "name", "invisible_characters"),
            ("POST", "/v1/institutions", {"uscc": "91440101\x07"}, "uscc", "control_characters"),
            ("POST", "/v1/institutions", {"address": "天河路\ud800 1 号"}, "address", "string_unicode"),
        ]
        for method, path, body, field, code in cases:
            raw = json.dumps(body).encode()  # ASCII, \\u escapes: a lone surrogate as JSON allows
            answer = await filing.request(
                method, path, content=raw, headers={**OFFICER, "Content-Type": "application/json"}
            )
            assert answer.status_code == 422, (body, answer.text)
            named = [e for e in _error(answer)["errors"] if e["field"] == field]
            assert named, (body, answer.text)
            assert code is None or named[0]["code"] == code, (body, named)
        # integers in paths and queries are bounded; strings in queries are checked as bodies are
        for path, field in [
            (f"/v1/institutions/{some_id}/annual-reports/2147483648", "year"),
            ("/v1/annual-reports/completion?year=99999999999", "year"),
            ("/v1/public/institutions?district=%00", "district"),
            ("/v1/public/institutions?district=%E2%80%AE440106", "district"),
        ]:
            answer = await filing.get(path, headers=OFFICER)
            assert answer.status_code == 422, (path, answer.text)
            assert _error(answer)["field"] == field, (path, answer.text)
        nul_path = await filing.get(f"/v1/institutions/{some_id}%00/staff", headers=OFFICER)
        assert nul_path.status_code == 422

        # the finding's exact requests, on a real institution with otherwise complete bodies: only the
        # NUL is wrong (one error each), and nothing of the body reaches a log line
        caplog.set_level(logging.INFO)
        documents = await upload_documents(filing, OFFICER)
        created = await filing.post("/v1/institutions", json=filing_body(documents), headers=OFFICER)
        assert created.status_code == 201, created.text
        inst = created.json()["id"]
        hire = {
            "name": "张\x00三",
            "id_number": PLANTED_ID,  # where an ID belongs: it must not reach a log line either
            "role": "carer",
            "health_certificate_expires_on": "2030-01-31",
            "hired_on": "2025-01-02",
        }
        for method, path, body, field in [
            ("POST", f"/v1/institutions/{inst}/staff", hire, "name"),
            ("POST", f"/v1/institutions/{inst}/changes", {"address": "天河路\x00 1 号"}, "address"),
            ("POST", "/v1/institutions", filing_body(documents, name="阳光\x00托育"), "name"),
        ]:
            answer = await filing.request(method, path, json=body, headers=OFFICER)
            assert answer.status_code == 422, (path, answer.text)
            assert [(e["field"], e["code"]) for e in _error(answer)["errors"]] == [(field, "control_characters")]
        assert not any(PLANTED_ID in JsonFormatter("filing").format(r) for r in caplog.records)
        caplog.clear()

    # A database error (here the server's own, which quotes the value) is logged without its text.
    db = Database(fresh_db("filing"), pool_size=1)
    try:
        async with db.transaction() as session:
            await session.execute(text("SELECT CAST(:v AS integer)"), {"v": f"张三{PLANTED_ID}"})
    except Exception as error:
        raised = error
    finally:
        await db.dispose()
    assert "parameters hidden" in str(raised)  # hide_parameters: SQLAlchemy never prints them
    scope = {"type": "http", "method": "GET", "path": "/v1/x", "headers": [], "query_string": b""}
    caplog.set_level(logging.INFO)
    failure = await _unhandled_handler(Request(scope), raised)
    assert failure.status_code == 500
    lines = [JsonFormatter("filing").format(r) for r in caplog.records]
    assert any("unhandled database error" in line for line in lines)
    assert not any(PLANTED_ID in line for line in lines), lines


async def test_finding_10_body_header_and_token_limits_and_public_rate_limits(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    overrides = {"filing": {"public_rate_burst": 3, "public_rate_per_minute": 1}}
    async with services(kafka, namespace, fresh_db, **overrides) as c:
        inspection, filing = c["inspection"], c["filing"]

        # 50 MiB declared: 413 before a byte of the body is read
        sent: list[int] = []

        async def fifty_mib() -> AsyncIterator[bytes]:
            for _ in range(50):
                sent.append(1)
                yield b" " * (1024 * 1024)

        declared = await inspection.post(
            "/v1/public/complaints",
            content=fifty_mib(),
            headers={"Content-Type": "application/json", "Content-Length": str(50 * 1024 * 1024)},
        )
        assert declared.status_code == 413, declared.text
        assert _error(declared)["code"] == "payload_too_large"
        assert len(sent) <= 1, f"{len(sent)} MiB were read before the refusal"
        # streamed without a length: counted as it arrives and cut off just past 1 MiB
        sent.clear()
        streamed = await inspection.post(
            "/v1/public/complaints", content=fifty_mib(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413, streamed.text
        assert len(sent) <= 2, f"{len(sent)} MiB were read before the refusal"
        # documents keep their 10 MiB
        big_pdf = _pdf("x" * (3 * 1024 * 1024))
        upload = await filing.post(
            "/v1/documents", content=big_pdf, headers={**OFFICER, "Content-Type": "application/pdf"}
        )
        assert upload.status_code == 201, upload.text

        # headers and tokens
        huge_header = await filing.get("/v1/institutions", headers={**OFFICER, "X-Padding": "a" * 20_000})
        assert huge_header.status_code == 431
        big_token = await filing.get("/v1/institutions", headers={"Authorization": "Bearer " + "a" * 10_000})
        assert big_token.status_code == 401
        assert _error(big_token)["code"] == "token_too_large"
        settings = ServiceSettings(environment="test")
        # the finding's exact requests: a validly signed 4 MB token (a 4 MB header), and one just past
        # the token limit but within the header limit: refused, never verified, never cached
        for size, status, code in [(4 * 1024 * 1024, 431, "headers_too_large"), (6000, 401, "token_too_large")]:
            signed = mint_token(settings, subject="big-" + "x" * size, roles=["filing_officer"], districts=["440106"])
            answer = await filing.get("/v1/institutions", headers={"Authorization": f"Bearer {signed}"})
            assert (answer.status_code, _error(answer)["code"]) == (status, code), (size, answer.text[:200])
            assert signed not in auth._verified._entries
        now = int(time.time())
        ten_years = jwt.encode(
            {
                "sub": "long-lived",
                "roles": ["filing_officer"],
                "iss": settings.jwt_issuer,
                "aud": settings.jwt_audience,
                "iat": now,
                "exp": now + 10 * 365 * 86400,
            },
            settings.jwt_secret,
            algorithm="HS256",
            headers={"kid": settings.jwt_key_id},
        )
        long_lived = await filing.get("/v1/institutions", headers={"Authorization": f"Bearer {ten_years}"})
        assert long_lived.status_code == 401
        assert _error(long_lived)["code"] == "token_lifetime"

        # the public directory search (and every other endpoint without login) is rate limited
        answers = [(await filing.get("/v1/public/institutions")).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 429, 429], answers
        limited = await filing.get("/v1/public/institutions")
        assert int(limited.headers["Retry-After"]) >= 1
        assert _error(limited)["code"] == "rate_limited"
        for service, client in c.items():
            doc = (await client.get("/openapi.json")).json()
            for path, operations in doc["paths"].items():
                for method, operation in operations.items():
                    if not operation.get("security") and path not in {"/healthz", "/readyz", "/metrics"}:
                        assert "429" in operation["responses"], f"{service} {method} {path} has no rate limit"


async def test_finding_11_forwarded_for_is_believed_only_from_trusted_proxies(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    complaint = {
        "district": "天河区",
        "address": "天河路 1 号 2 楼",
        "category": "unlicensed",
        "description": "小区里有人家里托管了很多婴幼儿，没有任何公示。",
    }
    limits = {"complaint_ip_burst": 2, "complaint_ip_per_hour": 1}
    async with services(kafka, namespace, fresh_db, inspection=limits) as c:
        answers = [(await c["inspection"].post("/v1/public/complaints", json=complaint)).status_code for _ in range(3)]
        forged = await c["inspection"].post(
            "/v1/public/complaints", json=complaint, headers={"X-Forwarded-For": "203.0.113.77"}
        )
        assert answers == [201, 201, 429]
        assert forged.status_code == 429, "a forged X-Forwarded-For reset the limit"

    behind_proxy = {**limits, "trusted_proxies": ["127.0.0.1"]}
    async with services(kafka, namespace, fresh_db, inspection=behind_proxy) as c:
        # the client wrote the left part; the proxy appended the address it saw (right-most)
        for _ in range(2):
            ok = await c["inspection"].post(
                "/v1/public/complaints", json=complaint, headers={"X-Forwarded-For": "198.51.100.7"}
            )
            assert ok.status_code == 201
        spoofed = await c["inspection"].post(
            "/v1/public/complaints", json=complaint, headers={"X-Forwarded-For": "203.0.113.77, 198.51.100.7"}
        )
        assert spoofed.status_code == 429, "the client-written left-most address was used"
        other = await c["inspection"].post(
            "/v1/public/complaints", json=complaint, headers={"X-Forwarded-For": "198.51.100.8"}
        )
        assert other.status_code == 201
    networks = trusted_networks(["10.0.0.0/8", "127.0.0.1"])
    assert forwarded_client("127.0.0.1", ["1.2.3.4, 5.6.7.8, 10.1.1.1"], networks) == "5.6.7.8"
    assert forwarded_client("192.0.2.1", ["1.2.3.4"], networks) == "192.0.2.1"
    assert forwarded_client("127.0.0.1", ["1.2.3.4"], []) == "127.0.0.1"


async def test_finding_12_security_headers_docs_pages_and_documents(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    async with services(kafka, namespace, fresh_db, filing={"web_dir": str(ROOT / "web")}) as c:
        filing = c["filing"]
        for path in ["/v1/public/institutions", "/ui/", "/docs", "/v1/institutions"]:
            answer = await filing.get(path)
            csp = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp, path
            assert "http" not in csp.replace("http://testserver:*", ""), (path, csp)  # no external origin
            assert "'unsafe-eval'" not in csp
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "no-referrer"
        assert "script-src 'self'" in (await filing.get("/ui/")).headers["content-security-policy"]

        # /docs: Swagger UI from the platform's own files, started by a file, not an inline script
        docs = await filing.get("/docs")
        assert docs.status_code == 200
        assert "cdn" not in docs.text
        assert "https://" not in docs.text
        assert "<script>" not in docs.text
        for asset in [
            "/docs/assets/swagger-ui-bundle.js",
            "/docs/assets/swagger-ui.css",
            "/docs/assets/swagger-init.js",
        ]:
            assert (await filing.get(asset)).status_code == 200, asset
        assert (await filing.get("/redoc")).status_code == 404

        # /ui/ serves the pages and their assets, nothing else
        for ok in ["/ui/", "/ui/index.html", "/ui/assets/common.js", "/ui/assets/style.css"]:
            assert (await filing.get(ok)).status_code == 200, ok
        for refused in [
            "/ui/package.json",
            "/ui/package-lock.json",
            "/ui/.gitignore",
            "/ui/vendor.mjs",
            "/ui/node_modules/echarts/package.json",
            "/ui/node_modules/swagger-ui-dist/index.html",
        ]:
            assert (await filing.get(refused)).status_code == 404, refused
        assert not any(
            "http" in tag and "127.0.0.1" not in tag
            for page in (ROOT / "web").glob("*.html")
            for tag in page.read_text().split("<script")[1:]
        ), "a page loads a script from elsewhere"
        assert not any(
            "<script>" in page.read_text() or '<script type="module">' in page.read_text()
            for page in (ROOT / "web").glob("*.html")
        ), "an inline script: the page CSP forbids it"

        # documents: whole files only, served as attachments
        pdf_headers = {**OFFICER, "Content-Type": "application/pdf"}
        polyglot = b"%PDF-<html><script>alert(document.domain)</script></html>\n%%EOF\n"
        hidden = b"%PDF-1.7\n<!-- -->\n<HTML><body><script>alert(1)</script>\n%%EOF\n"
        truncated = b"%PDF-1.7\n1 0 obj << >> endobj\n"
        for bad in (polyglot, hidden, truncated):
            answer = await filing.post("/v1/documents", content=bad, headers=pdf_headers)
            assert answer.status_code == 422, (bad, answer.text)
            assert _error(answer)["code"] == "content_type_mismatch"
        png_headers = {**OFFICER, "Content-Type": "image/png"}
        assert (await filing.post("/v1/documents", content=_png(), headers=png_headers)).status_code == 201
        png_then_page = _png() + b"<html><script>alert(1)</script>"
        assert (await filing.post("/v1/documents", content=png_then_page, headers=png_headers)).status_code == 422
        jpeg_headers = {**OFFICER, "Content-Type": "image/jpeg"}
        jpeg_page = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00<script>x</script>\xff\xd9"
        assert (await filing.post("/v1/documents", content=jpeg_page, headers=jpeg_headers)).status_code == 422
        good = _pdf("营业执照")
        stored = await filing.post("/v1/documents", content=good, headers=pdf_headers)
        assert stored.status_code == 201, stored.text
        download = await filing.get(f"/v1/documents/{hashlib.sha256(good).hexdigest()}", headers=OFFICER)
        assert download.status_code == 200
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in download.headers["content-security-policy"]

    # production: /docs and /openapi.json are off unless enabled by the setting
    production = {
        "environment": "production",
        "database_url": "postgresql://unused@/unused",
        "kafka_password": "k" * 40,
        "jwt_secret": "j" * 40,
        "pii_hmac_secret": "h" * 40,
        "pii_encryption_secret": "e" * 40,
        "oidc_issuer": "https://idp.example.org/realms/childcare",
        "run_background_workers": False,
    }
    for enabled, status in [(None, 404), (True, 200)]:
        settings = settings_for("filing", **production, docs_enabled=enabled)
        app = create_app("filing", settings, Database("postgresql://unused@/unused"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/docs")).status_code == status
            assert (await client.get("/openapi.json")).status_code == status
            assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == status
    # the image keeps Swagger UI where shared/app.py looks for it (/app/web/vendor/swagger-ui), built
    # from web/package-lock.json in its own stage (web/vendor/ is not in git)
    assert DEFAULT_DOCS_ASSETS == ROOT / "web" / "vendor" / "swagger-ui"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "RUN npm ci --ignore-scripts --no-audit --no-fund && node vendor.mjs" in dockerfile
    assert "COPY --from=web-vendor /web/vendor ./web/vendor" in dockerfile
    assert "WORKDIR /app" in dockerfile


async def test_finding_13_invalid_json_names_the_body(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    async with services(kafka, namespace, fresh_db) as c:
        for body in (b'{"name": "x",', b"not json", b'{"a": 1}}'):
            answer = await c["filing"].post(
                "/v1/institutions", content=body, headers={**OFFICER, "Content-Type": "application/json"}
            )
            assert answer.status_code == 422, answer.text
            error = _error(answer)
            assert error["code"] == "json_invalid"
            assert error["field"] == "body"
            assert all(e["field"] == "body" for e in error["errors"])
        complaint = await c["inspection"].post(
            "/v1/public/complaints", content=b"[1,", headers={"Content-Type": "application/json"}
        )
        assert complaint.status_code == 422
        assert _error(complaint)["field"] == "body"
        assert json.loads(complaint.text)["error"]["code"] == "json_invalid"
