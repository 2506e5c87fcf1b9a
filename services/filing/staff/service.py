"""Staff roster domain logic: hiring (with the industry-ban check), leaving, and staffing checks.

No commits here: the request's or consumer's unit of work owns the transaction, and every event is
written to the outbox in that same transaction.

Staffing rule (托育机构设置标准（试行） 国卫人口发〔2019〕58号): carers per class at least one per
3 children in a 乳儿班 (infant), 5 in a 托小班 (toddler) and 7 in a 托大班 (older). The national rule
gives **no ratio for mixed classes** (混合班); we use 1:5 by default (the common practice, also
TotSafe's default), configurable through the setting ``staffing_mixed_class_ratio``. Required carers
= Σ ceil(size / ratio) over the institution's filed classes. Every institution also needs at least
one active principal (负责人) and one active health worker (卫生保健人员, 76号令 Art. 12).

Personal data: the resident ID number is validated, then kept only as ciphertext, masked form and
``person_ref``. It never enters an event, a log line or any response but the authorised detail view.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.errors import InstitutionNotFound
from services.filing.models import Institution
from services.filing.staff import repository
from services.filing.staff.errors import (
    AlreadyEmployed,
    AlreadyLeft,
    DistrictOutOfScope,
    HealthCertificateExpired,
    InstitutionNotFiled,
    PersonBanned,
    StaffNotFound,
)
from services.filing.staff.models import ROLE_ZH, BannedPerson, StaffingStatus, StaffMember
from shared.errors import InvalidInput
from shared.events.credit import PersonBanLiftedV1, PersonBannedV1
from shared.events.filing import (
    CLASS_TYPE_ZH,
    Certificate,
    StaffHiredV1,
    StaffingShortfall,
    StaffingShortfallClearedV1,
    StaffingShortfallFlaggedV1,
    StaffLeftV1,
    StaffRole,
)
from shared.identifiers import normalise_identifier
from shared.outbox import Outbox
from shared.pii import PiiError, PiiVault, mask_resident_id
from shared.reference import districts
from shared.scope import district_codes
from shared.settings import ServiceSettings
from shared.workdays import china_today

log = logging.getLogger(__name__)

NATIONAL_CARER_RATIOS: dict[str, int] = {"infant": 3, "toddler": 5, "older": 7}
DEFAULT_MIXED_CLASS_RATIO = 5


# --- inputs and views ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who is acting, as far as the roster cares (built from the token by the API layer)."""

    subject: str
    roles: frozenset[str]
    districts: tuple[str, ...] = ()

    def covers(self, district_code: str) -> bool:
        return district_code in district_codes(self.districts)  # codes or names, as shared.scope


@dataclass(frozen=True)
class NewCertificate:
    kind: str
    number: str
    expires_on: date | None


@dataclass(frozen=True)
class NewTraining:
    hours: float
    date: date
    topic: str


@dataclass(frozen=True)
class NewStaff:
    name: str
    id_number: str = field(repr=False)  # never in a repr, so never in a traceback or log line
    role: StaffRole
    certificates: Sequence[NewCertificate]
    health_certificate_expires_on: date
    training: Sequence[NewTraining]
    hired_on: date


@dataclass(frozen=True)
class CertificateView:
    kind: str
    number: str
    expires_on: date | None


@dataclass(frozen=True)
class TrainingView:
    hours: float
    date: date
    topic: str


@dataclass(frozen=True)
class StaffView:
    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    id_masked: str
    person_ref: str
    role: str
    role_zh: str
    certificates: list[CertificateView]
    health_certificate_expires_on: date
    training: list[TrainingView]
    training_hours: float
    hired_on: date
    left_on: date | None
    left_reason: str | None
    active: bool


@dataclass(frozen=True)
class StaffDetailView(StaffView):
    id_number: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ShortfallView:
    code: str
    detail: str
    required: int | None
    actual: int | None


@dataclass(frozen=True)
class StaffingView:
    institution_id: uuid.UUID
    compliant: bool
    required_carers: int
    active_carers: int
    active_principals: int
    active_health_staff: int
    carer_ratios: dict[str, int]
    shortfalls: list[ShortfallView]
    evaluated_at: datetime | None


def vault_for(settings: ServiceSettings) -> PiiVault:
    return PiiVault.from_secrets(
        settings.pii_hmac_secret,
        settings.pii_encryption_secret,
        key_id=settings.pii_encryption_key_id,
        previous_secrets=settings.pii_previous_encryption_secrets,
    )


def carer_ratios(settings: ServiceSettings) -> dict[str, int]:
    """Children per carer by class type; mixed classes from configuration (no national figure)."""
    mixed = int(getattr(settings, "staffing_mixed_class_ratio", DEFAULT_MIXED_CLASS_RATIO))
    return {**NATIONAL_CARER_RATIOS, "mixed": max(mixed, 1)}


def _view(staff: StaffMember) -> StaffView:
    training = [
        TrainingView(hours=float(t["hours"]), date=date.fromisoformat(t["date"]), topic=t["topic"])
        for t in staff.training
    ]
    return StaffView(
        id=staff.id,
        institution_id=staff.institution_id,
        name=staff.name,
        id_masked=staff.id_masked,
        person_ref=staff.person_ref,
        role=staff.role,
        role_zh=ROLE_ZH.get(staff.role, staff.role),
        certificates=[
            CertificateView(
                kind=c["kind"],
                number=c["number"],
                expires_on=date.fromisoformat(c["expires_on"]) if c.get("expires_on") else None,
            )
            for c in staff.certificates
        ],
        health_certificate_expires_on=staff.health_certificate_expires_on,
        training=training,
        training_hours=round(sum(t.hours for t in training), 2),
        hired_on=staff.hired_on,
        left_on=staff.left_on,
        left_reason=staff.left_reason,
        active=staff.left_on is None,
    )


# --- staffing -----------------------------------------------------------------------------------


def required_carers(classes: Iterable[Mapping[str, Any]], ratios: Mapping[str, int]) -> int:
    """Σ ceil(size / ratio) over the classes; an unknown class type counts at the mixed ratio."""
    return sum(math.ceil(int(c["size"]) / ratios.get(str(c["class_type"]), ratios["mixed"])) for c in classes)


def assess_staffing(
    classes: Sequence[Mapping[str, Any]], role_counts: Mapping[str, int], ratios: Mapping[str, int]
) -> tuple[int, list[StaffingShortfall]]:
    """Pure: (required carers, shortfalls) for these classes and these active staff counts."""
    required = required_carers(classes, ratios)
    carers = role_counts.get("carer", 0)
    shortfalls: list[StaffingShortfall] = []
    if carers < required:
        basis = "；".join(
            f"{CLASS_TYPE_ZH.get(str(c['class_type']), str(c['class_type']))}{c['size']}人按1:"
            f"{ratios.get(str(c['class_type']), ratios['mixed'])}"
            for c in classes
        )
        shortfalls.append(
            StaffingShortfall(
                code="carer_ratio",
                detail=f"保育人员不足：按备案班级（{basis}）至少需要{required}名，在岗{carers}名",
                required=required,
                actual=carers,
            )
        )
    if role_counts.get("principal", 0) < 1:
        shortfalls.append(StaffingShortfall(code="no_principal", detail="未配备在岗负责人", required=1, actual=0))
    if role_counts.get("health", 0) < 1:
        shortfalls.append(
            StaffingShortfall(code="no_health_staff", detail="未配备在岗卫生保健人员", required=1, actual=0)
        )
    return required, shortfalls


def _signature(items: Iterable[Mapping[str, Any]]) -> list[tuple[str, int | None, int | None]]:
    # The wording of ``detail`` may change between releases; the state is the codes and the numbers.
    return sorted((str(i["code"]), i.get("required"), i.get("actual")) for i in items)


async def evaluate_staffing(
    session: AsyncSession, outbox: Outbox, institution: Institution, ratios: Mapping[str, int]
) -> list[StaffingShortfall]:
    """Re-assess the institution's staffing and emit an event only when the state changes:
    a new or changed shortfall → flagged; shortfall → compliant → cleared; otherwise nothing.

    Callable by whatever changes the roster or the filed classes (the caller holds the institution
    row lock)."""
    now = datetime.now(UTC)
    counts = await repository.active_role_counts(session, institution.id)
    _, shortfalls = assess_staffing(institution.classes, counts, ratios)
    items = [s.model_dump() for s in shortfalls]
    status = await repository.get_staffing_status(session, institution.id)
    previous = status.shortfalls if status is not None else []
    if status is not None and _signature(previous) == _signature(items):
        status.evaluated_at = now
        await session.flush()
        return shortfalls
    if shortfalls:
        await outbox.add(
            session,
            StaffingShortfallFlaggedV1(institution_id=institution.id, shortfalls=shortfalls, flagged_at=now),
            subject=str(institution.id),
            at=now,
        )
    elif previous:
        await outbox.add(
            session,
            StaffingShortfallClearedV1(institution_id=institution.id, cleared_at=now),
            subject=str(institution.id),
            at=now,
        )
    if status is None:
        status = StaffingStatus(institution_id=institution.id)
    status.compliant = not shortfalls
    status.shortfalls = items
    status.evaluated_at = now
    status.changed_at = now
    await repository.save_staffing_status(session, status)
    return shortfalls


async def get_staffing(session: AsyncSession, institution_id: uuid.UUID, ratios: Mapping[str, int]) -> StaffingView:
    institution = await repository.get_institution(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    counts = await repository.active_role_counts(session, institution_id)
    required, shortfalls = assess_staffing(institution.classes, counts, ratios)
    status = await repository.get_staffing_status(session, institution_id)
    return StaffingView(
        institution_id=institution_id,
        compliant=not shortfalls,
        required_carers=required,
        active_carers=counts.get("carer", 0),
        active_principals=counts.get("principal", 0),
        active_health_staff=counts.get("health", 0),
        carer_ratios=dict(ratios),
        shortfalls=[
            ShortfallView(code=s.code, detail=s.detail, required=s.required, actual=s.actual) for s in shortfalls
        ],
        evaluated_at=status.evaluated_at if status is not None else None,
    )


# --- hiring and leaving -------------------------------------------------------------------------


async def _institution_in_scope(session: AsyncSession, institution_id: uuid.UUID, actor: Actor) -> Institution:
    institution = await repository.get_institution(session, institution_id, lock=True)
    if institution is None:
        raise InstitutionNotFound()
    if not actor.covers(institution.district_code):
        name = districts()[institution.district_code].name
        raise DistrictOutOfScope(f"该机构属于{name}，不在您的辖区，无权办理其人员业务")
    return institution


def _scrub_certificate_number(number: str, id_number: str, masked: str) -> str:
    # Some certificates are numbered with the holder's ID number; that must not travel in clear.
    return masked if id_number in normalise_identifier(number) else number


async def hire_staff(
    session: AsyncSession,
    outbox: Outbox,
    vault: PiiVault,
    institution_id: uuid.UUID,
    new: NewStaff,
    *,
    actor: Actor,
    ratios: Mapping[str, int],
    today: date | None = None,
) -> StaffView:
    """Add a person to a filed institution's roster; refuses banned persons and double employment."""
    return (await hire_roster(session, outbox, vault, institution_id, [new], actor=actor, ratios=ratios, today=today))[
        0
    ]


async def hire_roster(
    session: AsyncSession,
    outbox: Outbox,
    vault: PiiVault,
    institution_id: uuid.UUID,
    people: Sequence[NewStaff],
    *,
    actor: Actor,
    ratios: Mapping[str, int],
    today: date | None = None,
    field_prefix: Callable[[int], str] | None = None,
) -> list[StaffView]:
    """Add several people to a filed institution's roster at once (an institution's roster as it
    registers it, 登记从业人员名册): all or none, one StaffHired event each, and the staffing assessed
    once, on the roster as it then stands (one person at a time, each hire would flag the shortfall
    again on its way to compliance). ``field_prefix(i)`` names the i-th person in an error's field."""
    today = today or china_today()
    institution = await _institution_in_scope(session, institution_id, actor)
    if institution.status == "suspended":
        raise InstitutionNotFiled("该托育机构暂停收托，暂停期间不能登记新的从业人员")
    if institution.status != "filed":
        raise InstitutionNotFiled()
    prefixes = [field_prefix(i) if field_prefix else "" for i in range(len(people))]
    views = await _hire_people(session, outbox, vault, institution, people, actor=actor, today=today, prefixes=prefixes)
    await evaluate_staffing(session, outbox, institution, ratios)
    return views


def _check_hire(new: NewStaff, *, today: date, prefix: str, ban: BannedPerson | None, employed: bool) -> None:
    """Refuse the person for the first reason found, in the order a hire checks them."""
    if new.hired_on > today:
        raise InvalidInput("入职日期不能晚于今天", code="hired_on_in_future", field=f"{prefix}hired_on")
    if new.health_certificate_expires_on < today:
        raise HealthCertificateExpired(
            f"健康证明已于{new.health_certificate_expires_on.isoformat()}过期，须取得有效健康证明后方可上岗",
            field=f"{prefix}health_certificate_expires_on",
        )
    if ban is not None:
        raise PersonBanned(reason=ban.reason, legal_basis=ban.legal_basis, until=ban.until, field=f"{prefix}id_number")
    if employed:
        raise AlreadyEmployed(field=f"{prefix}id_number")


async def _hire_people(
    session: AsyncSession,
    outbox: Outbox,
    vault: PiiVault,
    institution: Institution,
    people: Sequence[NewStaff],
    *,
    actor: Actor,
    today: date,
    prefixes: Sequence[str],
) -> list[StaffView]:
    """The people onto the (locked, filed) institution's roster and their StaffHired events, in
    their order, with one look-up of bans, one of employments, one insert and one outbox write
    for all of them (a city's rosters are tens of thousands of people: per person, these were
    five round trips). Each person is checked as if hired alone after the ones before: the first
    refused is the one named, and a person listed twice is already employed the second time."""
    person_refs = [vault.person_ref(new.id_number) for new in people]
    bans = await repository.active_bans(session, person_refs, today)
    employed = await repository.actively_employed(session, institution.id, person_refs)
    hired: list[StaffMember] = []
    for new, person_ref, prefix in zip(people, person_refs, prefixes, strict=True):
        _check_hire(new, today=today, prefix=prefix, ban=bans.get(person_ref), employed=person_ref in employed)
        employed.add(person_ref)  # listed again further down: employed by then
        hired.append(_staff_member(vault, institution, new, person_ref, actor=actor))
    inserted = await repository.insert_staff_unless_employed(
        session, [{key: getattr(staff, key) for key in repository.HIRED_COLUMNS} for staff in hired]
    )
    if len(inserted) < len(hired):
        # the same person hired here by a concurrent request that committed after the look-up (the
        # institution lock makes that rare): refused as a hire would be; the request rolls back whole
        first = next(i for i, staff in enumerate(hired) if staff.id not in inserted)
        raise AlreadyEmployed(field=f"{prefixes[first]}id_number")
    views = [_view(staff) for staff in hired]
    await outbox.add_all(
        session,
        [
            StaffHiredV1(
                institution_id=institution.id,
                staff_id=staff.id,
                person_ref=staff.person_ref,
                id_masked=staff.id_masked,
                name=staff.name,
                role=new.role,
                hired_on=staff.hired_on,
                certificates=[
                    Certificate(kind=c.kind, number=c.number, expires_on=c.expires_on) for c in view.certificates
                ],
                training_hours=float(sum(t.hours for t in new.training)),
                health_certificate_expires_on=new.health_certificate_expires_on,
            )
            for new, staff, view in zip(people, hired, views, strict=True)
        ],
        subject=str(institution.id),
        at=datetime.now(UTC),
    )
    return views


def _staff_member(
    vault: PiiVault, institution: Institution, new: NewStaff, person_ref: str, *, actor: Actor
) -> StaffMember:
    """The employment row of a person to hire (not added to the session: inserted with the roster)."""
    masked = mask_resident_id(new.id_number)
    return StaffMember(
        id=uuid.uuid4(),
        institution_id=institution.id,
        name=new.name,
        person_ref=person_ref,
        id_number_encrypted=vault.encrypt(new.id_number),
        id_masked=masked,
        role=new.role,
        certificates=[
            {
                "kind": c.kind,
                "number": _scrub_certificate_number(c.number, new.id_number, masked),
                "expires_on": c.expires_on.isoformat() if c.expires_on else None,
            }
            for c in new.certificates
        ],
        health_certificate_expires_on=new.health_certificate_expires_on,
        training=[{"hours": t.hours, "date": t.date.isoformat(), "topic": t.topic} for t in new.training],
        hired_on=new.hired_on,
        hired_by=actor.subject,
    )


async def leave_staff(
    session: AsyncSession,
    outbox: Outbox,
    institution_id: uuid.UUID,
    staff_id: uuid.UUID,
    *,
    actor: Actor,
    ratios: Mapping[str, int],
    left_on: date | None = None,
    reason: str | None = None,
    today: date | None = None,
) -> StaffView:
    """离职: end the employment on ``left_on`` (default today, Beijing); the row stays as history."""
    today = today or china_today()
    institution = await _institution_in_scope(session, institution_id, actor)
    staff = await repository.get_staff(session, institution.id, staff_id, lock=True)
    if staff is None:
        raise StaffNotFound()
    if staff.left_on is not None:
        raise AlreadyLeft(f"该人员已于{staff.left_on.isoformat()}离职，不能重复离职")
    left_on = left_on or today
    if left_on > today:
        raise InvalidInput("离职日期不能晚于今天", code="left_on_in_future", field="left_on")
    if left_on < staff.hired_on:
        raise InvalidInput(
            f"离职日期不能早于入职日期（{staff.hired_on.isoformat()}）", code="left_before_hired", field="left_on"
        )
    now = datetime.now(UTC)
    staff.left_on = left_on
    staff.left_reason = reason
    staff.left_recorded_by = actor.subject
    staff.updated_at = now
    await session.flush()
    await outbox.add(
        session,
        StaffLeftV1(
            institution_id=institution.id,
            staff_id=staff.id,
            person_ref=staff.person_ref,
            left_on=left_on,
            reason=reason,
        ),
        subject=str(institution.id),
        at=now,
    )
    if institution.status == "filed":  # a deregistered institution has no staffing duty left
        await evaluate_staffing(session, outbox, institution, ratios)
    return _view(staff)


async def list_staff(
    session: AsyncSession, institution_id: uuid.UUID, *, include_left: bool = False
) -> list[StaffView]:
    if await repository.get_institution(session, institution_id) is None:
        raise InstitutionNotFound()
    return [_view(s) for s in await repository.list_staff(session, institution_id, include_left=include_left)]


async def get_staff_detail(
    session: AsyncSession, vault: PiiVault, institution_id: uuid.UUID, staff_id: uuid.UUID, *, actor: Actor
) -> StaffDetailView:
    """One staff member. The clear ID number only for a filing officer of the institution's
    district (the authorised view); everyone else sees the masked form."""
    institution = await repository.get_institution(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    staff = await repository.get_staff(session, institution_id, staff_id)
    if staff is None:
        raise StaffNotFound()
    clear: str | None = None
    if "filing_officer" in actor.roles and actor.covers(institution.district_code):
        try:
            clear = vault.decrypt(staff.id_number_encrypted)
        except PiiError:
            # Wrong or rotated key, or a damaged value: show the masked form rather than fail.
            log.error("stored resident ID could not be decrypted", extra={"staff_id": str(staff.id)})
        else:
            # An audit trail of who saw whose number, without the number.
            log.info(
                "resident ID disclosed to authorised viewer",
                extra={"staff_id": str(staff.id), "institution_id": str(institution_id), "viewer": actor.subject},
            )
    view = _view(staff)
    return StaffDetailView(**{f.name: getattr(view, f.name) for f in fields(view)}, id_number=clear)


# --- industry-ban projection (consumed from the credit service) ---------------------------------


async def apply_person_banned(session: AsyncSession, data: PersonBannedV1) -> None:
    await repository.upsert_ban(
        session,
        person_ref=data.person_ref,
        reason=data.reason,
        legal_basis=data.legal_basis,
        banned_at=data.banned_at,
        until=data.until,
        cause_event_id=data.cause_event_id,
    )


async def apply_person_ban_lifted(session: AsyncSession, data: PersonBanLiftedV1) -> None:
    await repository.lift_ban(session, person_ref=data.person_ref, lifted_at=data.lifted_at, reason=data.reason)
