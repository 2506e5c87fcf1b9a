"""Filing domain logic. No commits here: the caller's unit of work owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.filing import repository
from services.filing.errors import InstitutionNotFound, UsccAlreadyFiled
from services.filing.models import Institution
from shared.errors import InvalidInput
from shared.events.filing import InstitutionSubmittedV1
from shared.outbox import Outbox
from shared.reference import ReferenceDataError, districts, streets, validate_location


@dataclass(frozen=True)
class NewInstitution:
    uscc: str
    name: str
    district: str
    street_code: str


@dataclass(frozen=True)
class InstitutionView:
    id: uuid.UUID
    uscc: str
    name: str
    district_code: str
    district_name: str
    street_code: str
    street_name: str
    status: str
    submitted_at: datetime


def _view(institution: Institution) -> InstitutionView:
    return InstitutionView(
        id=institution.id,
        uscc=institution.uscc,
        name=institution.name,
        district_code=institution.district_code,
        district_name=districts()[institution.district_code].name,
        street_code=institution.street_code,
        street_name=streets()[institution.street_code].name,
        status=institution.status,
        submitted_at=institution.submitted_at,
    )


async def submit_institution(
    session: AsyncSession, outbox: Outbox, new: NewInstitution, *, officer: str
) -> InstitutionView:
    try:
        district, street = validate_location(new.district, new.street_code)
    except ReferenceDataError as exc:
        raise InvalidInput(exc.message_zh, code=exc.code, field=exc.field) from exc
    if await repository.uscc_exists(session, new.uscc):
        raise UsccAlreadyFiled(field="uscc")
    now = datetime.now(UTC)
    institution = Institution(
        id=uuid.uuid4(),
        uscc=new.uscc,
        name=new.name,
        district_code=district.code,
        street_code=street.code,
        status="submitted",
        submitted_by=officer,
        submitted_at=now,
    )
    try:
        async with session.begin_nested():
            await repository.add_institution(session, institution)
    except IntegrityError as exc:  # a concurrent request filed the same code first
        raise UsccAlreadyFiled(field="uscc") from exc
    await outbox.add(
        session,
        InstitutionSubmittedV1(
            institution_id=institution.id,
            uscc=institution.uscc,
            name=institution.name,
            district_code=institution.district_code,
            street_code=institution.street_code,
            submitted_at=now,
        ),
        subject=str(institution.id),
        at=now,
    )
    return _view(institution)


async def get_institution(session: AsyncSession, institution_id: uuid.UUID) -> InstitutionView:
    institution = await repository.get_institution(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    return _view(institution)
