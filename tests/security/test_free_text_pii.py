"""Finding 7 (issue 16): a resident ID number typed into free text went everywhere (events, the
append-only ledger, other agencies). Every free-text field of every service is found in the
service's own OpenAPI document (``x-free-text``, from shared/text.py) and gets one planted ID: each
answer is 422 ``personal_data_in_text`` naming that field, from the four services running against
real Kafka and PostgreSQL. A free-form string that is neither free text nor a listed identifier
fails the test, so a new field cannot slip past the check by not being declared.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from devstack.kafka import LocalKafka
from shared.reference import districts
from shared.text import contains_mobile_number, contains_resident_id
from tests.support import Platform, token

SERVICES = ("filing", "inspection", "credit", "reporting")
PLANTED_ID = "440106199001018779"  # checksum-valid (GB 11643), born 1990-01-01
TEXT = f"当事人身份证号{PLANTED_ID}，见现场记录"
EVERYONE = {
    **token(
        "filing_officer",
        "supervisor",
        "inspector",
        "credit_officer",
        "ops",
        "agency:market_regulation",
        subject="pii-probe",
        districts=sorted(districts()),
    ),
    "Idempotency-Key": "pii-probe-0001",
}

# Free-form strings that are identifiers or codes, not text: each checked by its own format.
IDENTIFIERS = {
    "uscc",  # 统一社会信用代码 (checksum)
    "district",  # district code or name (reference data)
    "districts.[]",
    "street_code",
    "id_number",  # the resident ID itself, where it belongs: the roster (stored encrypted)
    "certificates.[].number",  # a certificate's number (may be the holder's ID: the roster keeps it)
    "items.[].id_number",  # the same two, for each person of a roster registered at once
    "items.[].certificates.[].number",
    "contact",  # the complainant's phone or e-mail, where it belongs (stored encrypted, never shown)
    "subject",  # a login token's sub
    "badge_number",  # 执法证号 (letters, digits, hyphens)
    "checklist_items.[]",  # checklist codes
    "code",  # violation catalogue code
    "items.[].code",  # assessment item code
    "items.[].item_code",
    "scheme_version",
    "sampling_ratios.*",  # decimals
    "evidence_sha256.[]",  # SHA-256 digests
}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _strings(doc: dict[str, Any], schema: dict[str, Any], path: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    schema = _resolve(doc, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _strings(doc, sub, path)
    kind = schema.get("type")
    if kind == "object":
        for name, sub in (schema.get("properties") or {}).items():
            yield from _strings(doc, sub, [*path, name])
        if isinstance(schema.get("additionalProperties"), dict):
            yield from _strings(doc, schema["additionalProperties"], [*path, "*"])
    elif kind == "array":
        yield from _strings(doc, schema.get("items", {}), [*path, "[]"])
    elif kind == "string":
        yield ".".join(path), schema


def _free_form(schema: dict[str, Any]) -> bool:
    return not any(k in schema for k in ("enum", "const", "pattern", "format"))


def _body_with(path: str, value: str) -> Any:
    """The smallest JSON body that puts ``value`` at ``path`` (``a.[].b``)."""
    head, _, rest = path.partition(".")
    inner = value if not rest else _body_with(rest, value)
    return [inner] if head == "[]" else {head: inner}


def _field(path: str) -> str:
    return path.replace("[]", "0")


def _concrete(path: str) -> str:
    values = {"year": "2025", "sha256": "0" * 64, "receipt": "ABCDEFGHIJ", "version": "wst821-v1"}
    out = []
    for part in path.split("/"):
        if part.startswith("{"):
            name = part.strip("{}")
            out.append(values.get(name, str(uuid.uuid4())))
        else:
            out.append(part)
    return "/".join(out)


@pytest.fixture
async def platform(kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]) -> AsyncIterator[Platform]:
    async with Platform(kafka.bootstrap, namespace, {s: fresh_db(s) for s in SERVICES}) as p:
        yield p


def test_the_text_checks_find_what_they_are_for() -> None:
    assert contains_resident_id(TEXT)
    assert contains_resident_id("４４０１０６１９９００１０１８７７９")  # full-width, as typed with a Chinese IME
    assert contains_resident_id("4401 0619 9001 0187 79")
    assert not contains_resident_id("44010619900101877X")  # wrong check character
    assert not contains_resident_id("订单号 4401061990010187790")  # part of a longer number
    assert contains_mobile_number("联系13800138000")
    assert contains_mobile_number("电话 +86 138-0013-8000")
    assert not contains_mobile_number("面积 120 平方米，托位 23800138000123")


async def test_finding_7_a_planted_id_in_every_free_text_field_is_refused_at_the_edge(platform: Platform) -> None:
    probed: list[str] = []
    unmarked: list[str] = []
    for service in SERVICES:
        doc = platform.apps[service].openapi()
        client = platform.clients[service]
        for route, operations in doc["paths"].items():
            for method, operation in operations.items():
                for parameter in operation.get("parameters", []):
                    schema = parameter.get("schema", {})
                    if any("x-free-text" in s for s in [schema, *schema.get("anyOf", [])]):
                        answer = await client.request(
                            method, _concrete(route), params={parameter["name"]: TEXT}, headers=EVERYONE
                        )
                        where = f"{service} {method.upper()} {route} ?{parameter['name']}"
                        _assert_refused(answer, parameter["name"], where)
                        probed.append(where)
                content = operation.get("requestBody", {}).get("content", {})
                if "application/json" not in content:
                    continue
                for path, schema in _strings(doc, content["application/json"]["schema"], []):
                    where = f"{service} {method.upper()} {route} {path}"
                    if "x-free-text" not in schema:
                        if _free_form(schema) and path not in IDENTIFIERS:
                            unmarked.append(where)
                        continue
                    answer = await client.request(
                        method, _concrete(route), json=_body_with(path, TEXT), headers=EVERYONE
                    )
                    _assert_refused(answer, _field(path), where)
                    probed.append(where)
    assert not unmarked, f"free-form strings neither free text (shared/text.py) nor identifiers: {unmarked}"
    # every kind of free text the issue names, in every service that takes it
    for expected in (
        "filing POST /v1/institutions name",
        "filing POST /v1/institutions address",
        "filing POST /v1/institutions/{institution_id}/decision reason",
        "filing POST /v1/institutions/{institution_id}/staff name",
        "filing POST /v1/institutions/{institution_id}/staff/roster items.[].name",
        "filing DELETE /v1/institutions/{institution_id}/staff/{staff_id} ?reason",
        "inspection POST /v1/tasks/{task_id}/violations description",
        "inspection PUT /v1/tasks/{task_id}/findings items.[].note",
        "inspection POST /v1/public/complaints description",
        "inspection POST /v1/complaints/{complaint_id}/triage reason",
        "credit POST /v1/credit/repairs commitment",
        "credit POST /v1/credit/repairs/{repair_id}/decision reason",
    ):
        assert expected in probed, f"{expected} was not probed; probed: {probed}"
    assert len(probed) >= 35


async def test_public_text_also_refuses_a_mobile_number(platform: Platform) -> None:
    complaint = {
        "district": "天河区",
        "address": "天河路 1 号",
        "category": "other",
        "description": "有事请打 13800138000 联系园长，她知道情况",
    }
    answer = await platform.clients["inspection"].post("/v1/public/complaints", json=complaint)
    _assert_refused(answer, "description", "public complaint with a mobile number")
    assert "手机号码" in answer.json()["error"]["errors"][0]["message"]
    # the same number where it belongs (the contact, stored encrypted) is accepted
    complaint["description"] = "小区里有人家里托管了很多婴幼儿，没有任何公示。"
    complaint["contact"] = "13800138000"
    accepted = await platform.clients["inspection"].post("/v1/public/complaints", json=complaint)
    assert accepted.status_code == 201, accepted.text


def _assert_refused(answer: Any, field: str, where: str) -> None:
    assert answer.status_code == 422, f"{where}: {answer.status_code} {answer.text[:300]}"
    errors = answer.json()["error"]["errors"]
    mine = [e for e in errors if e["field"] == field]
    assert mine, f"{where}: no error names {field}: {errors}"
    assert mine[0]["code"] == "personal_data_in_text", f"{where}: {mine}"
    assert PLANTED_ID not in answer.text  # the refusal never echoes the number
