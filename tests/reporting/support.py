"""Helpers for reporting-service tests: domain events as other services would emit them, and the
Go verifier (tests/reporting/gocheck) built once per run."""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.events import CloudEvent, EventData
from shared.events.credit import InstitutionGradedV1, PersonBannedV1
from shared.events.filing import InstitutionFiledV1, InstitutionProfile, InstitutionSubmittedV1, StaffHiredV1
from shared.events.inspection import ViolationConfirmedV1
from shared.events.reporting import LedgerEntrySharedV1, LedgerEntrySharedV2
from shared.outbox import Outbox

GOCHECK_DIR = Path(__file__).resolve().parent / "gocheck"
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
SOURCES = {"filing": "/services/filing", "inspection": "/services/inspection", "credit": "/services/credit"}


def envelope(data: EventData, subject: str, *, at: datetime | None = None) -> CloudEvent:
    service = data.event_type.split(".")[4]
    return Outbox(source=SOURCES[service]).envelope(data, subject=subject, at=at or T0)


def profile(**overrides: Any) -> InstitutionProfile:
    values: dict[str, Any] = {
        "uscc": "91440106MA59C8XK3C",
        "name": "天河区小树苗托育中心",
        "organiser_type": "enterprise",
        "operating_model": "private",
        "service_types": ["full_day"],
        "district_code": "440106",
        "street_code": "440106001",
        "address": "天河路1号",
        "latitude": 23.1291,
        "longitude": 113.324,
        "premises_area_m2": 480.5,
        "classes": [{"class_type": "toddler", "size": 15}, {"class_type": "older", "size": 20}],
        "total_slots": 35,
        "puhui_slots": 20,
        "monthly_fee_yuan": 3800,
        "meals": True,
    }
    values.update(overrides)
    return InstitutionProfile(**values)


def institution_story(n: int = 0) -> list[CloudEvent]:
    """Six events around one institution, of six types spread over the three domain topics."""
    iid = uuid.UUID(int=0x1000 + n)
    person = f"{n:064x}"
    at = T0 + timedelta(minutes=n)
    prof = profile(name=f"第{n}托育中心")
    return [
        envelope(
            InstitutionSubmittedV1(
                institution_id=iid,
                uscc=prof.uscc,
                name=prof.name,
                district_code="440106",
                street_code="440106001",
                submitted_at=at,
                profile=prof,
            ),
            str(iid),
            at=at,
        ),
        envelope(InstitutionFiledV1(institution_id=iid, profile=prof, decided_by="officer-7", decided_at=at), str(iid)),
        envelope(
            StaffHiredV1(
                institution_id=iid,
                staff_id=uuid.UUID(int=0x2000 + n),
                person_ref=person,
                id_masked="4401**********123X",
                name="张三",
                role="carer",
                hired_on=at.date(),
            ),
            str(iid),
        ),
        envelope(
            ViolationConfirmedV1(
                violation_id=uuid.UUID(int=0x3000 + n),
                task_id=uuid.UUID(int=0x4000 + n),
                institution_id=iid,
                code="SAFE-01",
                title_zh="消防通道堵塞",
                severity="serious",
                legal_basis="《托育机构管理规范（试行）》第十条",
                person_ref=person,
                description="二楼消防通道堆放杂物",
                confirmed_by="supervisor-1",
                confirmed_at=at,
            ),
            str(iid),
        ),
        envelope(
            InstitutionGradedV1(
                institution_id=iid, grade="B", previous_grade="A", score=81.5, policy_version="2025.1", graded_at=at
            ),
            str(iid),
        ),
        envelope(
            PersonBannedV1(
                person_ref=person,
                reason="虐童",
                legal_basis="《中华人民共和国未成年人保护法》第六十二条",
                banned_at=at,
                cause_event_id=str(uuid.uuid4()),
            ),
            person,
        ),
    ]


@functools.cache
def _built_gocheck() -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is required for the Go sumdb check (go is on every polyglot machine)")
    out = Path(tempfile.mkdtemp(prefix="ledgercheck-")) / "ledgercheck"
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    subprocess.run([go, "build", "-o", str(out), "."], cwd=GOCHECK_DIR, env=env, check=True, timeout=300)
    return out


def run_gocheck(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Exit status and report of the Go verifier (golang.org/x/mod/sumdb/note and tlog)."""
    binary = _built_gocheck()
    done = subprocess.run(
        [str(binary)], input=json.dumps(payload).encode(), capture_output=True, timeout=60, check=False
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    return done.returncode, json.loads(done.stdout)


def entry_shared_v1(record: bytes) -> bytes:
    """A ledger-topic record (``entry_shared.v2``) as the reporting service wrote the same entry
    before v2: ``entry_shared.v1``, the same envelope, the leaf hash in hex and the source event's
    fields named ``source_event_*`` (old records of this kind stay on the topic)."""
    envelope = CloudEvent.model_validate_json(record)
    assert envelope.type == LedgerEntrySharedV2.event_type, envelope.type
    data = envelope.data
    v1 = LedgerEntrySharedV1(
        index=data["index"],
        leaf_hash=base64.b64decode(data["leaf_hash"], validate=True).hex(),
        source_event_id=data["event_id"],
        source_event_source=data["event_source"],
        source_event_type=data["event_type"],
        subject=data["subject"],
        event_time=data["event_time"],
        recorded_at=data["recorded_at"],
        data=data["data"],
    )
    old = envelope.model_copy(update={"type": LedgerEntrySharedV1.event_type, "data": v1.model_dump(mode="json")})
    return old.to_json().encode()
