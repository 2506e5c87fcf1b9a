"""Refused writes leave a trace (issue 16, finding 8), against the four real services: six
cross-district writes answered 403 leave six audit rows (who, what, why refused: status and error
code) and six log lines, though each request's own transaction rolled back; and a write whose
path names no institution names the one in its body (``POST /v1/quality/assessments``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.security.scope_support import OPS, SUPERVISOR, TIANHE, YUEXIU, build_world, platform, self_assessment
from tests.support import Platform, token

__all__ = ["platform"]  # the fixture


async def audit(p: Platform, service: str, query: str) -> list[dict[str, Any]]:
    page = await p.clients[service].get(f"/v1/audit?{query}", headers=OPS)
    assert page.status_code == 200, page.text
    return list(page.json()["entries"])


async def test_finding_8_refused_writes_are_audited_and_logged(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    p = platform
    w = await build_world(p)
    inst = w.institution_id
    writes = [
        ("filing", "POST", f"/v1/institutions/{inst}/decision", {"decision": "file"}),
        ("filing", "POST", f"/v1/institutions/{inst}/changes", {"name": "越秀区冒名托育中心"}),
        ("filing", "POST", f"/v1/institutions/{inst}/deregistration", {"reason": "停止办学"}),
        ("filing", "DELETE", f"/v1/institutions/{inst}/staff/{w.inspector_ids[0]}", None),
        ("inspection", "POST", "/v1/quality/assessments", self_assessment(inst)),
        ("inspection", "POST", "/v1/quality/assessments", {**self_assessment(inst), "scheme_version": "wst821-v1"}),
    ]
    caplog.set_level(logging.WARNING, logger="shared.audit")
    for service, method, path, body in writes:
        refused = await p.clients[service].request(method, path, json=body, headers=YUEXIU)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "district_out_of_scope"

    filing_rows = await audit(p, "filing", "subject=officer-yuexiu-a&outcome=refused")
    inspection_rows = await audit(p, "inspection", "subject=officer-yuexiu-a&outcome=refused")
    rows = filing_rows + inspection_rows
    assert len(rows) == 6
    for row in rows:
        assert row["outcome"] == "refused"
        assert (row["status_code"], row["error_code"]) == (403, "district_out_of_scope")
        assert row["roles"] == ["filing_officer"]
        assert row["districts"] == ["440104"]
    assert [(r["method"], r["route"]) for r in filing_rows] == [
        ("POST", "/v1/institutions/{institution_id}/decision"),
        ("POST", "/v1/institutions/{institution_id}/changes"),
        ("POST", "/v1/institutions/{institution_id}/deregistration"),
        ("DELETE", "/v1/institutions/{institution_id}/staff/{staff_id}"),
    ]
    assert all(r["path_params"]["institution_id"] == inst for r in filing_rows)
    # the path names no institution: the audit names the one in the body (and nothing else of it)
    assert [r["targets"] for r in inspection_rows] == [{"institution_id": inst}] * 2
    assert [r["route"] for r in inspection_rows] == ["/v1/quality/assessments"] * 2
    # nothing of the refused writes happened
    institution = (await p.clients["filing"].get(f"/v1/institutions/{inst}", headers=TIANHE)).json()
    assert institution["status"] == "filed"
    assert institution["name"] != "越秀区冒名托育中心"
    listed = await p.clients["inspection"].get(f"/v1/quality/institutions/{inst}/assessments", headers=SUPERVISOR)
    assert listed.json()["items"] == []

    # one log line per refusal, saying who, what and why, and no body
    lines = [r for r in caplog.records if r.getMessage() == "write refused"]
    assert len(lines) == 6
    for line in lines:
        assert line.__dict__["subject"] == "officer-yuexiu-a"
        assert (line.__dict__["status_code"], line.__dict__["error_code"]) == (403, "district_out_of_scope")
        assert "越秀区冒名托育中心" not in str(line.__dict__)

    # a successful write through the same route names its institution too
    done = await p.clients["inspection"].post("/v1/quality/assessments", json=self_assessment(inst), headers=TIANHE)
    assert done.status_code == 201, done.text
    committed = await audit(p, "inspection", "subject=officer-tianhe-a&outcome=committed")
    assert [(r["route"], r["targets"], r["status_code"]) for r in committed] == [
        ("/v1/quality/assessments", {"institution_id": inst}, None)
    ]

    # a role refusal is a refused write too; a caller without a valid token is not recorded (anyone
    # can send those, so they would let anyone fill the table)
    inspector = token("inspector", subject="inspector-wrong-role")
    assert (await p.clients["inspection"].post("/v1/plans", json={}, headers=inspector)).status_code == 403
    role_rows = await audit(p, "inspection", "subject=inspector-wrong-role")
    assert [(r["route"], r["status_code"], r["error_code"]) for r in role_rows] == [("/v1/plans", 403, "role_required")]
    before = await audit(p, "filing", "outcome=refused")
    assert (await p.clients["filing"].post(f"/v1/institutions/{inst}/decision", json={})).status_code == 401
    assert await audit(p, "filing", "outcome=refused") == before
