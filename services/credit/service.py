"""Credit domain logic (诚信档案). Scoring and grading arrive with the credit issue; the record that
every later entry hangs on is opened here, from the filing event that first names the institution."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import repository
from services.credit.errors import CreditRecordNotFound
from services.credit.models import CreditSubject
from shared.events.credit import CreditRecordOpenedV1
from shared.outbox import Outbox


@dataclass(frozen=True)
class CreditRecordView:
    subject_kind: str
    subject_id: str
    display_name: str | None
    district_code: str | None
    opened_at: datetime
    opened_by_event_id: str


async def open_institution_record(
    session: AsyncSession,
    outbox: Outbox,
    *,
    institution_id: str,
    name: str,
    district_code: str,
    at: datetime,
    cause_event_id: str,
) -> bool:
    """Open the institution's record once; a second filing event for it changes nothing."""
    inserted = await repository.insert_subject_if_absent(
        session,
        CreditSubject(
            id=uuid.uuid4(),
            subject_kind="institution",
            subject_id=institution_id,
            display_name=name,
            district_code=district_code,
            opened_at=at,
            opened_by_event_id=cause_event_id,
        ),
    )
    if inserted:
        await outbox.add(
            session,
            CreditRecordOpenedV1(
                subject_kind="institution", subject_id=institution_id, opened_at=at, cause_event_id=cause_event_id
            ),
            subject=institution_id,
            at=at,
        )
    return inserted


async def get_record(session: AsyncSession, kind: str, subject_id: str) -> CreditRecordView:
    subject = await repository.find_subject(session, kind, subject_id)
    if subject is None:
        raise CreditRecordNotFound()
    return CreditRecordView(
        subject_kind=subject.subject_kind,
        subject_id=subject.subject_id,
        display_name=subject.display_name,
        district_code=subject.district_code,
        opened_at=subject.opened_at,
        opened_by_event_id=subject.opened_by_event_id,
    )
