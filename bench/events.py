"""Synthetic but contract-true event streams: the filing service's own event classes wrapped by its
own ``Outbox.envelope``, so every record decodes, validates and is handled exactly as a live one.

Each institution contributes three events, in order and under its own key: submitted (提交备案),
filed (予以备案) and an on-time annual report (年报). The credit service opens a record and
regrades on each; the reporting service appends each to the ledger and projects the statistics.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.events import CloudEvent
from shared.events.filing import (
    AnnualReportSubmittedV1,
    ClassPlan,
    InstitutionFiledV1,
    InstitutionProfile,
    InstitutionSubmittedV1,
)
from shared.identifiers import uscc_check_char
from shared.outbox import Outbox
from shared.topics import FILING_EVENTS, qualified

FILING_SOURCE = "/services/filing"
EVENTS_PER_INSTITUTION = 3
# A few real Guangzhou districts and one of their streets each (shared/reference_data).
LOCATIONS = [("440106", "440106001"), ("440104", "440104001"), ("440105", "440105001"), ("440111", "440111002")]


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes
    value: bytes
    event_id: str


def uscc_for(n: int) -> str:
    body = f"9144010{n % 10}MA{n % 10**7:07d}"
    return body + uscc_check_char(body)


def profile(n: int) -> InstitutionProfile:
    district, street = LOCATIONS[n % len(LOCATIONS)]
    return InstitutionProfile(
        uscc=uscc_for(n),
        name=f"广州市第{n}托育中心",
        organiser_type="enterprise",
        operating_model="private",
        service_types=["full_day", "hourly"],
        district_code=district,
        street_code=street,
        address=f"天河路{n % 1000}号2楼",
        latitude=23.1291,
        longitude=113.3240,
        premises_area_m2=480.0,
        classes=[ClassPlan(class_type="toddler", size=15), ClassPlan(class_type="older", size=20)],
        total_slots=35,
        puhui_slots=20,
        monthly_fee_yuan=3800,
        meals=True,
    )


def institution_events(outbox: Outbox, n: int, base: datetime) -> list[CloudEvent]:
    iid = uuid.UUID(int=(0xBE7C << 112) | n)
    prof = profile(n)
    submitted_at = base + timedelta(seconds=n)
    filed_at = submitted_at + timedelta(days=3)
    reported_at = filed_at + timedelta(days=200)
    subject = str(iid)
    return [
        outbox.envelope(
            InstitutionSubmittedV1(
                institution_id=iid,
                uscc=prof.uscc,
                name=prof.name,
                district_code=prof.district_code,
                street_code=prof.street_code,
                submitted_at=submitted_at,
                profile=prof,
                decision_due=(submitted_at + timedelta(days=7)).date(),
            ),
            subject=subject,
            at=submitted_at,
        ),
        outbox.envelope(
            InstitutionFiledV1(institution_id=iid, profile=prof, decided_by="bench-officer", decided_at=filed_at),
            subject=subject,
            at=filed_at,
        ),
        outbox.envelope(
            AnnualReportSubmittedV1(
                institution_id=iid,
                year=reported_at.year - 1,
                submitted_at=reported_at,
                on_time=True,
                enrolled_children=30,
                staff_count=8,
                incidents=0,
            ),
            subject=subject,
            at=reported_at,
        ),
    ]


def envelopes(count: int, *, start: int = 0) -> Iterator[CloudEvent]:
    """``count`` filing events (whole institutions first; the last one may be cut short)."""
    outbox = Outbox(source=FILING_SOURCE)
    base = datetime(2024, 1, 2, 1, 0, tzinfo=UTC)
    produced = 0
    for n in itertools.count(start):
        for envelope in institution_events(outbox, n, base):
            if produced == count:
                return
            yield envelope
            produced += 1


def records(count: int, namespace: str, *, start: int = 0) -> Iterator[Record]:
    topic = qualified(namespace, FILING_EVENTS)
    for envelope in envelopes(count, start=start):
        yield Record(topic, envelope.subject.encode(), envelope.to_json().encode(), envelope.id)
