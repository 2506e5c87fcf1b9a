"""After the demo city is loaded, no resident ID number appears in clear anywhere it could leak:
every Kafka topic, every log line, every ledger export, the public and officer API answers, and the
pages. The scanner looks for any checksum-valid 18-character ID number, not for known values.

Before the scan, a checksum-valid ID is planted in every free-text field of the four running
services (enumerated from their own OpenAPI documents, ``x-free-text``), on the demo city's own
records where the path names one; and, as a person would send it, in complete requests (an
inspector's violation description on their own task: issue 16, finding 7). Each is refused 422
``personal_data_in_text`` naming the field; then the scan finds no clear ID anywhere."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from services.inspection.reference import checklist, violation_catalogue
from shared.auth import mint_token
from shared.identifiers import IdentifierError, validate_resident_id, validate_uscc
from shared.reference import districts
from tests.security.test_free_text_pii import IDENTIFIERS, PLANTED_ID, TEXT, _body_with, _field, _free_form, _strings
from tests.support import admin_access, read_topic
from tests.web.conftest import WebPlatform

SERVICES = ("filing", "inspection", "credit", "reporting")

CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def resident_ids_in(text: str) -> set[str]:
    """Every checksum-valid resident ID number with a plausible birth date in ``text``. A candidate
    that is also a valid unified social credit code is not counted (the two formats overlap)."""
    found = set()
    for match in CANDIDATE.finditer(text):
        value = match.group(0)
        try:
            validate_resident_id(value)
        except IdentifierError:
            continue
        try:
            validate_uscc(value)
            continue
        except IdentifierError:
            found.add(value)
    return found


def test_the_scanner_finds_what_it_is_looking_for() -> None:
    assert resident_ids_in('{"id_number": "11010519491231002X", "masked": "110105********002X"}') == {
        "11010519491231002X"
    }
    assert resident_ids_in("11010519491231002X".lower()) == {"11010519491231002x"}
    assert resident_ids_in("110105194912310021 440103********1234 91440106MA59C8XK3C") == set()


def _fetch(url: str, token: str | None = None) -> str:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode("utf-8", "replace")


async def _all_topic_text(web_platform: WebPlatform) -> Iterable[tuple[str, str]]:
    admin = AIOKafkaAdminClient(**admin_access(web_platform.bootstrap).aiokafka())
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(web_platform.namespace)]
    finally:
        await admin.close()
    assert len(topics) >= 4, topics
    out = []
    for topic in topics:
        for record in await read_topic(web_platform.bootstrap, topic):
            out.append((topic, (record.value or b"").decode("utf-8", "replace")))
    return out


class Planter:
    """Plants the ID in free text on the running demo platform and records what each answer was."""

    def __init__(self, web_platform: WebPlatform, client: httpx.AsyncClient) -> None:
        self.w = web_platform
        self.client = client
        self.probed: list[str] = []
        self.wrong: list[str] = []

    def bearer(self, *roles: str, subject: str, districts_: list[str] | None = None) -> dict[str, str]:
        minted = mint_token(self.w.token_settings, subject=subject, roles=list(roles), districts=districts_)
        return {"Authorization": f"Bearer {minted}", "Idempotency-Key": f"pii-{uuid.uuid4()}"}

    async def json(self, service: str, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        answer = await self.client.request(method, self.w.urls[service] + path, headers=headers, **kw)
        assert answer.status_code in (200, 201), f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        return answer.json()

    async def send(
        self, where: str, field: str, service: str, method: str, path: str, headers: dict[str, str], **kw: Any
    ) -> list[dict[str, Any]]:
        answer = await self.client.request(method, self.w.urls[service] + path, headers=headers, **kw)
        self.probed.append(where)
        errors: list[dict[str, Any]] = []
        if answer.status_code == 422:
            errors = answer.json()["error"]["errors"]
        mine = [e for e in errors if e.get("field") == field]
        if not mine or mine[0].get("code") != "personal_data_in_text" or PLANTED_ID in answer.text:
            self.wrong.append(f"{where}: {answer.status_code} {answer.text[:300]}")
        return errors


async def _plant_everywhere(w: WebPlatform) -> Planter:
    async with httpx.AsyncClient(timeout=30) as client:
        p = Planter(w, client)
        everyone = sorted(districts())
        ops = p.bearer("ops", "supervisor", subject="pii-web-ops")
        listing = await p.json("filing", "GET", "/v1/institutions?status=filed&page_size=100", ops)
        institution = next(i for i in listing["items"] if i["district_code"] in districts())
        inst, district = institution["id"], institution["district_code"]
        staff = await p.json("filing", "GET", f"/v1/institutions/{inst}/staff", ops)
        supervisor = p.bearer("supervisor", subject="pii-web-supervisor")
        subject = f"pii-web-inspector-{uuid.uuid4().hex[:6]}"
        team = []
        for n, who in enumerate((subject, f"{subject}-partner")):
            registered = await p.json(
                "inspection",
                "POST",
                "/v1/inspectors",
                supervisor,
                json={
                    "subject": who,
                    "name": f"检查员{'甲乙'[n]}",
                    "agency": "区卫生健康局",
                    "badge_number": f"PII-{uuid.uuid4().hex[:8]}",
                    "districts": [district],
                },
            )
            team.append(registered["id"])
        task = await p.json(
            "inspection",
            "POST",
            "/v1/targeted-inspections",
            supervisor,
            json={
                "institution_id": inst,
                "inspector_ids": team,
                "reason": "other",
                "reason_detail": "专项检查",
                "due_by": (date.today() + timedelta(days=10)).isoformat(),
            },
        )
        plans = await p.json("inspection", "GET", "/v1/plans", ops)
        complaints = await p.json("inspection", "GET", "/v1/complaints", ops)
        cases = await p.json("inspection", "GET", "/v1/unlicensed-cases", ops)
        # the demo city's own records wherever a path names one
        real = {
            "institution_id": inst,
            "year": str(w.summary.details["year"]),
            "staff_id": staff["items"][0]["id"],
            "task_id": task["id"],
            "inspector_id": team[0],
            "plan_id": plans[0]["id"],
            "complaint_id": complaints["items"][0]["id"] if complaints["items"] else str(uuid.uuid4()),
            "case_id": cases["items"][0]["id"] if cases["items"] else str(uuid.uuid4()),
        }

        def concrete(route: str) -> str:
            return "/".join(
                real.get(part.strip("{}"), str(uuid.uuid4())) if part.startswith("{") else part
                for part in route.split("/")
            )

        # 1. every free-text field of every service, from the services' own OpenAPI documents
        unmarked = []
        for service in SERVICES:
            doc = await p.json(service, "GET", "/openapi.json", {})
            for route, operations in doc["paths"].items():
                for method, operation in operations.items():
                    caller = p.bearer(
                        "filing_officer", "supervisor", "inspector", "credit_officer", "ops",
                        "agency:market_regulation", subject="pii-web-probe", districts_=everyone,
                    )  # fmt: skip
                    for parameter in operation.get("parameters", []):
                        schema = parameter.get("schema", {})
                        if any("x-free-text" in s for s in [schema, *schema.get("anyOf", [])]):
                            name = parameter["name"]
                            where = f"{service} {method.upper()} {route} ?{name}"
                            await p.send(where, name, service, method, concrete(route), caller, params={name: TEXT})
                    content = operation.get("requestBody", {}).get("content", {})
                    if "application/json" not in content:
                        continue
                    for path, schema in _strings(doc, content["application/json"]["schema"], []):
                        where = f"{service} {method.upper()} {route} {path}"
                        if "x-free-text" not in schema:
                            if _free_form(schema) and path not in IDENTIFIERS:
                                unmarked.append(where)
                            continue
                        body = _body_with(path, TEXT)
                        await p.send(where, _field(path), service, method, concrete(route), caller, json=body)
        assert not unmarked, f"free-form strings neither free text nor identifiers: {unmarked}"

        # 2. complete requests, as people send them: only the planted ID is wrong in each
        member = p.bearer("inspector", subject=subject)
        officer = p.bearer("filing_officer", subject="pii-web-officer", districts_=[district])
        violation = next(iter(violation_catalogue()))
        whole = [
            (  # issue 16, finding 7: an inspector's violation description on their own task
                "violation description by the task's inspector",
                "description",
                "inspection",
                "POST",
                f"/v1/tasks/{task['id']}/violations",
                member,
                {"code": violation, "description": f"现场发现无证上岗人员，身份证号{PLANTED_ID}，已责令离岗"},
            ),
            (
                "finding note by the task's inspector",
                "items.0.note",
                "inspection",
                "PUT",
                f"/v1/tasks/{task['id']}/findings",
                member,
                {"items": [{"item_code": next(iter(checklist())), "result": "fail", "note": TEXT}]},
            ),
            (
                "anonymous complaint",
                "description",
                "inspection",
                "POST",
                "/v1/public/complaints",
                {},
                {"district": district, "address": "某路 1 号", "category": "other", "description": TEXT},
            ),
            (
                "staff hired by the district's officer",
                "name",
                "filing",
                "POST",
                f"/v1/institutions/{inst}/staff",
                officer,
                {
                    "name": f"张三{PLANTED_ID}",
                    "id_number": "11010519491231002X",
                    "role": "carer",
                    "certificates": [{"kind": "保育师证", "number": "BY-2024-00099", "expires_on": "2029-06-30"}],
                    "health_certificate_expires_on": (date.today() + timedelta(days=300)).isoformat(),
                    "hired_on": (date.today() - timedelta(days=7)).isoformat(),
                },
            ),
            (
                "address change by the district's officer",
                "address",
                "filing",
                "POST",
                f"/v1/institutions/{inst}/changes",
                officer,
                {"address": f"天河路 1 号（负责人身份证 {PLANTED_ID}）"},
            ),
        ]
        for where, field, service, method, path, headers, body in whole:
            errors = await p.send(where, field, service, method, path, headers, json=body)
            if len(errors) != 1:
                p.wrong.append(f"{where}: the request is not otherwise complete: {errors}")
        return p


async def test_planted_ids_are_refused_and_no_resident_id_number_is_anywhere(web_platform: WebPlatform) -> None:
    assert web_platform.summary.present["staff"] > 0, "the demo city hired staff: there are ID numbers to leak"
    planted = await _plant_everywhere(web_platform)
    assert not planted.wrong, "\n".join(planted.wrong)
    assert len(planted.probed) >= 40, planted.probed
    for expected in (
        "inspection POST /v1/tasks/{task_id}/violations description",
        "inspection POST /v1/public/complaints description",
        "filing POST /v1/institutions/{institution_id}/staff name",
        "credit POST /v1/credit/repairs commitment",
        "violation description by the task's inspector",
    ):
        assert expected in planted.probed, expected
    print(f"planted an ID in {len(planted.probed)} free-text fields: every one refused")  # noqa: T201
    leaks: dict[str, set[str]] = {}

    def scan(where: str, text: str) -> None:
        hits = resident_ids_in(text)
        if hits:
            leaks.setdefault(where, set()).update(hits)

    scanned: dict[str, int] = {"topic records": 0, "log files": 0, "ledger exports": 0, "answers": 0, "pages": 0}
    for topic, text in await _all_topic_text(web_platform):
        scanned["topic records"] += 1
        scan(f"kafka {topic}", text)
    assert scanned["topic records"] > 100, "the demo city should have put events on the topics"

    logs = sorted(web_platform.logs.glob("*.log"))
    assert len(logs) == len(SERVICES)
    for log in logs:
        scanned["log files"] += 1
        scan(f"log {log.name}", log.read_text(errors="replace"))

    ops = web_platform.token("ops", "supervisor", "credit_officer")
    health = web_platform.token("agency:health_commission", subject="pii-web-health")
    for reader, who in ((ops, "ops"), (health, "agency:health_commission")):
        for fmt in ("jsonl", "csv"):
            export = _fetch(f"{web_platform.urls['reporting']}/v1/ledger/export?format={fmt}", reader)
            assert export.strip(), (who, fmt)
            scanned["ledger exports"] += 1
            scan(f"ledger export {fmt} for {who}", export)
    institutions = json.loads(_fetch(f"{web_platform.urls['filing']}/v1/institutions?page_size=100", ops))["items"]
    answers = [
        ("filing", "/v1/public/institutions?page_size=100"),
        ("filing", "/v1/institutions?page_size=100"),
        ("inspection", "/v1/public/inspection-results?page_size=100"),
        ("inspection", "/v1/complaints"),
        ("credit", "/v1/credit/lists/industry_ban"),
        ("credit", "/v1/credit/lists/serious_dishonesty"),
        *((service, "/v1/audit?limit=1000") for service in SERVICES),
        *(("credit", f"/v1/credit/institutions/{i['id']}") for i in institutions[:20]),
        *(("reporting", f"/v1/institutions/{i['id']}/summary") for i in institutions[:20]),
        *(("filing", f"/v1/institutions/{i['id']}") for i in institutions[:20]),
    ]
    for service, path in answers:
        scanned["answers"] += 1
        scan(f"api {service} {path}", _fetch(web_platform.urls[service] + path, ops))
    for page in ("index.html", "institution.html", "results.html", "credit.html", "dashboard.html"):
        scanned["pages"] += 1
        scan(f"page {page}", _fetch(f"{web_platform.pages}/{page}"))
    print(f"scanned {scanned}: clear resident IDs found {sum(len(v) for v in leaks.values())}")  # noqa: T201

    assert not leaks, {where: sorted(values)[:3] for where, values in leaks.items()}
