"""Helpers for inspection-service tests: filing and credit facts as their real event contracts."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from shared.events.credit import InstitutionGradedV1
from shared.events.filing import InstitutionFiledV1, InstitutionProfile, StaffHiredV1
from shared.identifiers import uscc_check_char
from shared.outbox import Outbox
from tests.support import token

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify_draw.py"
_serial = itertools.count(1)
SUPERVISOR = token("supervisor", subject="supervisor-city-01")


def uscc() -> str:
    body = "91440106MA" + "".join(str(b % 10) for b in uuid.uuid4().bytes[:7])
    return body + uscc_check_char(body)


def filed(
    district: str = "440106",
    *,
    institution_id: uuid.UUID | None = None,
    at: datetime | None = None,
    name: str | None = None,
    lat: float = 23.1291,
    lng: float = 113.3240,
) -> InstitutionFiledV1:
    n = next(_serial)
    street = {"440106": "440106001", "440104": "440104001", "440103": "440103001"}[district]
    profile = InstitutionProfile(
        uscc=uscc(),
        name=name or f"测试托育中心{n}号",
        organiser_type="enterprise",
        operating_model="private",
        service_types=["full_day"],
        district_code=district,
        street_code=street,
        address=f"测试路{n}号",
        latitude=lat,
        longitude=lng,
        premises_area_m2=400.0,
        classes=[{"class_type": "toddler", "size": 15}],
        total_slots=15,
        puhui_slots=5,
        monthly_fee_yuan=3000,
        meals=True,
    )
    return InstitutionFiledV1(
        institution_id=institution_id or uuid.uuid4(),
        profile=profile,
        decided_by="officer",
        decided_at=at or datetime.now(UTC),
    )


def graded(institution_id: uuid.UUID, grade: str, at: datetime) -> InstitutionGradedV1:
    return InstitutionGradedV1(
        institution_id=institution_id,
        grade=grade,
        score=80.0,
        policy_version="test-1",
        graded_at=at,
    )


def person_ref(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def hired(institution_id: uuid.UUID, ref: str, name: str = "张某某") -> StaffHiredV1:
    return StaffHiredV1(
        institution_id=institution_id,
        staff_id=uuid.uuid4(),
        person_ref=ref,
        id_masked="440106********1234",
        name=name,
        role="carer",
        hired_on=date(2025, 9, 1),
    )


def envelope_bytes(data: Any, *, source: str, subject: str) -> bytes:
    return Outbox(source=source).envelope(data, subject=subject).to_json().encode("utf-8")


def inspector_body(subject: str, districts: list[str], badge: str | None = None) -> dict[str, Any]:
    return {
        "subject": subject,
        "name": f"检查员{subject[-3:]}",
        "agency": "天河区卫生健康局",
        "badge_number": badge or f"GZ-{uuid.uuid4().hex[:10]}",
        "districts": districts,
    }


def verify(record: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run the standalone verifier (tools/verify_draw.py) on a published draw record, as a third party would."""
    return subprocess.run(
        [sys.executable, str(VERIFIER), "-"], input=json.dumps(record), capture_output=True, text=True, check=False
    )


async def observe(client: Any, plan_id: str, count: int = 2) -> dict[str, tuple[str, str]]:
    """Independent observers register their commitments before the commit (docs/draw.md §1.1)."""
    opened: dict[str, tuple[str, str]] = {}
    for n in range(count):
        value, salt = f"监督员见证值 {n} {uuid.uuid4().hex[:6]}", uuid.uuid4().hex * 2
        commitment = hashlib.sha256(value.encode("utf-8") + bytes.fromhex(salt)).hexdigest()
        r = await client.post(
            f"/v1/plans/{plan_id}/observers",
            json={"organisation": f"独立监督单位{n + 1}", "commitment": commitment},
            headers=SUPERVISOR,
        )
        assert r.status_code == 201, r.text
        opened[r.json()["id"]] = (value, salt)
    return opened


async def reveal_and_draw(app: Any, client: Any, plan_id: str, opened: dict[str, tuple[str, str]]) -> Any:
    """Move the app's clock forward to the plan's reveal time (it keeps running from there), reveal
    every observer, then draw."""
    record = (await client.get(f"/v1/plans/{plan_id}/draw", headers=SUPERVISOR)).json()
    ahead = datetime.fromisoformat(record["witness"]["reveal_not_before"]) - datetime.now(UTC)
    app.state.clock = lambda: datetime.now(UTC) + ahead
    for observer_id, (value, salt) in opened.items():
        url = f"/v1/plans/{plan_id}/observers/{observer_id}/reveal"
        r = await client.post(url, json={"value": value, "salt": salt}, headers=SUPERVISOR)
        assert r.status_code == 200, r.text
    return await client.post(f"/v1/plans/{plan_id}/draw", json={}, headers=SUPERVISOR)
