"""Institution filing (登记备案): submission, decisions, changes, deregistration.

Lifecycle: submitted → filed | returned | rejected; returned → submitted (a resubmission restarts
the decision clock); filed → deregistered; filed → suspended → filed | deregistered (暂停收托 after a
confirmed child-abuse case: services/filing/suspension). A change (变更) of a filed institution applies minor
fields at once and holds key fields for a decision, while the filed values stay in force.

No commits here: the caller's unit of work owns the transaction. Every state change writes its event
to the outbox in the same transaction.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.filing.errors import InstitutionNotFound
from services.filing.institutions import repository
from services.filing.institutions.errors import (
    ChangePending,
    ChangeWhileSuspended,
    DocumentNotFound,
    IllegalTransition,
    SelfDecision,
    UsccAlreadyFiled,
)
from services.filing.institutions.schemas import (
    CLASS_LIMITS,
    DOCUMENT_ZH,
    KEY_FIELDS,
    MINOR_FIELDS,
    STATUS_ZH,
    DocumentKind,
    FilingRecord,
    InstitutionCreate,
)
from services.filing.models import Institution, InstitutionChange, InstitutionDecision
from services.filing.staff import repository as staff_repository
from services.filing.staff import service as staff_service
from shared.auth import Principal
from shared.errors import InvalidInput
from shared.events.filing import (
    InstitutionChangedV1,
    InstitutionChangeRefusedV1,
    InstitutionChangeRequestedV1,
    InstitutionDeregisteredV1,
    InstitutionFiledV1,
    InstitutionProfile,
    InstitutionRejectedV1,
    InstitutionReturnedV1,
    InstitutionSubmittedV1,
)
from shared.outbox import Outbox
from shared.reference import ReferenceDataError, validate_location
from shared.scope import require_district
from shared.workdays import Deadline, WorkdayCalendar, china_today

FAMILY_MAX_CHILDREN = 5  # 家庭托育点管理办法（试行）


@dataclass(frozen=True)
class FilingRules:
    calendar: WorkdayCalendar
    decision_working_days: int = 5
    # the Beijing date "today" (a parameter so deadlines can be checked for any day)
    today: Callable[[], date] = china_today
    # children per carer by class type, for re-checking staffing when the filed classes change
    carer_ratios: Mapping[str, int] | None = None


def _require_scope(officer: Principal, district_code: str) -> None:
    require_district(officer, district_code, field="district")  # shared.scope: codes or names


async def _check_documents(session: AsyncSession, documents: Mapping[DocumentKind, str], meals: bool) -> None:
    _check_documents_complete(documents, meals)
    await _check_documents_uploaded(session, documents)


def _check_documents_complete(documents: Mapping[DocumentKind, str], meals: bool) -> None:
    required: list[DocumentKind] = ["business_licence", "premises_proof", "hygiene_evaluation", "fire_safety"]
    if meals:
        required.append("food_licence")
    missing = [kind for kind in required if kind not in documents]
    if missing:
        names = "、".join(DOCUMENT_ZH[k] for k in missing)
        raise InvalidInput(
            f"备案材料不齐全，缺少：{names}",
            code="documents_incomplete",
            field=f"documents.{missing[0]}",
            errors=[
                {"field": f"documents.{k}", "code": "document_required", "message": f"缺少{DOCUMENT_ZH[k]}"}
                for k in missing
            ],
        )


async def _check_documents_uploaded(session: AsyncSession, documents: Mapping[DocumentKind, str]) -> None:
    known = await repository.existing_documents(session, list(documents.values()))
    for kind, digest in documents.items():
        if digest not in known:
            raise DocumentNotFound(
                f"{DOCUMENT_ZH[kind]}文件未上传（SHA-256 {digest[:12]}…不存在），请先通过 /v1/documents 上传",
                field=f"documents.{kind}",
            )


def _check_capacity(operating_model: str, classes: list[dict[str, Any]], puhui_slots: int) -> int:
    total = sum(int(c["size"]) for c in classes)
    for i, c in enumerate(classes):
        limit, name = CLASS_LIMITS[c["class_type"]]
        if int(c["size"]) > limit:  # also re-checked here for merged changes
            raise InvalidInput(f"{name}每班不超过{limit}人", code="class_size_exceeded", field=f"classes.{i}.size")
    if puhui_slots > total:
        raise InvalidInput(
            f"普惠托位数（{puhui_slots}）不能超过总托位数（{total}）", code="puhui_exceeds_total", field="puhui_slots"
        )
    if operating_model == "family" and total > FAMILY_MAX_CHILDREN:
        raise InvalidInput(
            f"家庭托育点收托不超过{FAMILY_MAX_CHILDREN}人，超过的应按托育机构备案",
            code="family_capacity_exceeded",
            field="classes",
        )
    return total


def _location(district: str, street_code: str) -> tuple[str, str]:
    try:
        d, s = validate_location(district, street_code)
    except ReferenceDataError as exc:
        raise InvalidInput(exc.message_zh, code=exc.code, field=exc.field) from exc
    return d.code, s.code


def _profile(institution: Institution) -> InstitutionProfile:
    return InstitutionProfile.model_validate(institution, from_attributes=True)


def _deadline(rules: FilingRules, start: date) -> Deadline:
    return _working_days_after(rules.calendar, start, rules.decision_working_days)


@functools.lru_cache(maxsize=256)
def _working_days_after(calendar: WorkdayCalendar, start: date, days: int) -> Deadline:
    # the same every time for one calendar (immutable) and start day: computed once a day, not
    # once per request (chinese_calendar scans its whole holiday table for every day it checks)
    return calendar.add_working_days(start, days)


async def _submitted_event(outbox: Outbox, session: AsyncSession, institution: Institution) -> None:
    await outbox.add(
        session,
        InstitutionSubmittedV1(
            institution_id=institution.id,
            uscc=institution.uscc,
            name=institution.name,
            district_code=institution.district_code,
            street_code=institution.street_code,
            submitted_at=institution.submitted_at,
            profile=_profile(institution),
            submission=institution.submission,
            decision_due=institution.decision_due,
            decision_due_provisional=institution.decision_due_provisional,
        ),
        subject=str(institution.id),
        at=institution.submitted_at,
    )


def _profile_values(data: InstitutionCreate, district_code: str, street_code: str) -> dict[str, Any]:
    """The row's columns of a filing, its capacity checked: the location as resolved (the district
    may have been given by name) and the total of its classes."""
    values = data.model_dump()
    total_slots = _check_capacity(data.operating_model, values["classes"], data.puhui_slots)
    return {**values, "district_code": district_code, "street_code": street_code, "total_slots": total_slots}


async def submit(
    session: AsyncSession, outbox: Outbox, rules: FilingRules, data: InstitutionCreate, *, officer: Principal
) -> Institution:
    district_code, street_code = _location(data.district_code, data.street_code)
    _require_scope(officer, district_code)
    profile = _profile_values(data, district_code, street_code)
    _check_documents_complete(data.documents, data.meals)
    now = datetime.now(UTC)
    deadline = _deadline(rules, rules.today())
    values = {
        "id": uuid.uuid4(),
        "uscc": data.uscc,
        "status": "submitted",
        "submission": 1,
        "submitted_by": officer.subject,
        "submitted_at": now,
        "decision_due": deadline.due,
        "decision_due_provisional": deadline.provisional,
        "decided_at": None,
        "filed_at": None,
        "deregistered_at": None,
        "version": 1,
        **profile,
    }
    # One statement inserts the row and is both checks (documents uploaded, code not yet filed);
    # only when it inserted nothing do we look which check failed, documents first as before.
    institution = await repository.insert_new(session, values)
    if institution is None:
        await _check_documents_uploaded(session, data.documents)
        raise UsccAlreadyFiled(field="uscc")
    await _submitted_event(outbox, session, institution)
    return institution


async def _locked(session: AsyncSession, institution_id: uuid.UUID, officer: Principal | None) -> Institution:
    institution = await repository.get_for_update(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    if officer is not None:
        _require_scope(officer, institution.district_code)
    return institution


def _illegal(institution: Institution, action_zh: str) -> IllegalTransition:
    return IllegalTransition(f"机构当前状态为“{STATUS_ZH[institution.status]}”，不能{action_zh}", field="status")


async def resubmit(
    session: AsyncSession,
    outbox: Outbox,
    rules: FilingRules,
    institution_id: uuid.UUID,
    data: InstitutionCreate,
    *,
    officer: Principal,
) -> Institution:
    institution = await _locked(session, institution_id, officer)
    if institution.status != "returned":
        raise _illegal(institution, "重新提交（仅退回补正的机构可重新提交）")
    if data.uscc != institution.uscc:
        raise InvalidInput("统一社会信用代码不能在补正时更改", code="uscc_immutable", field="uscc")
    district_code, street_code = _location(data.district_code, data.street_code)
    _require_scope(officer, district_code)
    profile = _profile_values(data, district_code, street_code)
    await _check_documents(session, data.documents, data.meals)
    now = datetime.now(UTC)
    deadline = _deadline(rules, rules.today())  # the clock restarts at the complete resubmission
    _assign(institution, profile)
    institution.status = "submitted"
    institution.submitted_by = officer.subject  # whoever submits this submission may not decide it
    institution.submission += 1
    institution.submitted_at = now
    institution.decision_due = deadline.due
    institution.decision_due_provisional = deadline.provisional
    institution.updated_at = now
    institution.version += 1
    await session.flush()
    await _submitted_event(outbox, session, institution)
    return institution


async def decide(
    session: AsyncSession,
    outbox: Outbox,
    rules: FilingRules,
    institution_id: uuid.UUID,
    *,
    decision: str,
    reason: str | None,
    officer: Principal,
    decider_not_submitter: bool = True,
) -> Institution:
    """File, return or reject the submission or the pending change. With ``decider_not_submitter``
    (shared/duties.py), never by the officer who submitted it on the institution's behalf."""
    if decision in {"return", "reject"} and not (reason and reason.strip()):
        raise InvalidInput("退回补正或不予备案必须说明理由", code="reason_required", field="reason")
    institution = await _locked(session, institution_id, officer)
    change = await repository.pending_change(session, institution.id)
    now = datetime.now(UTC)
    today = china_today(now)
    if change is not None:
        if institution.status == "suspended":
            raise ChangeWhileSuspended(field="decision")
        if decider_not_submitter and change.requested_by == officer.subject:
            raise SelfDecision()
        await _decide_change(session, outbox, rules, institution, change, decision, reason, officer, now)
        return institution
    if institution.status != "submitted":
        raise _illegal(institution, "作出备案决定")
    if decider_not_submitter and institution.submitted_by == officer.subject:
        raise SelfDecision()
    on_time = institution.decision_due is None or today <= institution.decision_due
    session.add(
        InstitutionDecision(
            id=uuid.uuid4(),
            institution_id=institution.id,
            decision=decision,
            reason=reason,
            decided_by=officer.subject,
            decided_at=now,
            on_time=on_time,
        )
    )
    institution.decided_at = now
    institution.updated_at = now
    institution.version += 1
    subject = str(institution.id)
    if decision == "file":
        institution.status = "filed"
        institution.filed_at = now
        await session.flush()
        await outbox.add(
            session,
            InstitutionFiledV1(
                institution_id=institution.id,
                profile=_profile(institution),
                decided_by=officer.subject,
                decided_at=now,
                reason=reason,
            ),
            subject=subject,
            at=now,
        )
    elif decision == "return":
        institution.status = "returned"
        await session.flush()
        await outbox.add(
            session,
            InstitutionReturnedV1(
                institution_id=institution.id, decided_by=officer.subject, decided_at=now, reason=reason or ""
            ),
            subject=subject,
            at=now,
        )
    else:
        institution.status = "rejected"
        await session.flush()
        await outbox.add(
            session,
            InstitutionRejectedV1(
                institution_id=institution.id, decided_by=officer.subject, decided_at=now, reason=reason or ""
            ),
            subject=subject,
            at=now,
        )
    return institution


def _current_values(institution: Institution) -> dict[str, Any]:
    return FilingRecord.model_validate(institution, from_attributes=True).model_dump()


def _assign(institution: Institution, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        setattr(institution, name, value)


@dataclass(frozen=True)
class ChangeOutcome:
    applied_fields: list[str]
    pending: InstitutionChange | None


async def request_change(
    session: AsyncSession,
    outbox: Outbox,
    rules: FilingRules,
    institution_id: uuid.UUID,
    requested: dict[str, Any],
    *,
    officer: Principal,
) -> ChangeOutcome:
    institution = await _locked(session, institution_id, officer)
    if institution.status != "filed":
        raise _illegal(institution, "办理变更（仅已备案机构可变更）")
    if await repository.pending_change(session, institution.id) is not None:
        raise ChangePending(field="status")
    current = _current_values(institution)
    proposed = dict(current)
    if "district" in requested or "street_code" in requested:
        district_code, street_code = _location(
            requested.get("district", institution.district_code), requested.get("street_code", institution.street_code)
        )
        _require_scope(officer, district_code)
        proposed["district_code"], proposed["street_code"] = district_code, street_code
    for name, value in requested.items():
        if name not in {"district", "street_code"}:
            proposed[name] = value
    proposed["total_slots"] = _check_capacity(proposed["operating_model"], proposed["classes"], proposed["puhui_slots"])
    changed = sorted(name for name in proposed if proposed[name] != current[name])
    if not changed:
        raise InvalidInput("变更内容与现有备案信息相同", code="no_changes", field="body")
    if {"documents", "meals"} & set(changed):
        await _check_documents(session, proposed["documents"], proposed["meals"])
    minor = [n for n in changed if n in MINOR_FIELDS]
    key = [n for n in changed if n in KEY_FIELDS]
    now = datetime.now(UTC)
    subject = str(institution.id)
    if minor:
        _assign(institution, {n: proposed[n] for n in minor})
        institution.updated_at = now
        institution.version += 1
        await session.flush()
        await outbox.add(
            session,
            InstitutionChangedV1(
                institution_id=institution.id, changed_fields=minor, profile=_profile(institution), changed_at=now
            ),
            subject=subject,
            at=now,
        )
    pending: InstitutionChange | None = None
    if key:
        deadline = _deadline(rules, rules.today())
        pending = InstitutionChange(
            id=uuid.uuid4(),
            institution_id=institution.id,
            changes={n: proposed[n] for n in key},
            status="pending",
            requested_by=officer.subject,
            requested_at=now,
            decision_due=deadline.due,
            decision_due_provisional=deadline.provisional,
        )
        session.add(pending)
        await session.flush()
        await outbox.add(
            session,
            InstitutionChangeRequestedV1(
                institution_id=institution.id,
                change_id=pending.id,
                changed_fields=key,
                requested_at=now,
                decision_due=deadline.due,
                decision_due_provisional=deadline.provisional,
            ),
            subject=subject,
            at=now,
        )
    return ChangeOutcome(applied_fields=minor, pending=pending)


async def _decide_change(
    session: AsyncSession,
    outbox: Outbox,
    rules: FilingRules,
    institution: Institution,
    change: InstitutionChange,
    decision: str,
    reason: str | None,
    officer: Principal,
    now: datetime,
) -> None:
    on_time = china_today(now) <= change.decision_due
    session.add(
        InstitutionDecision(
            id=uuid.uuid4(),
            institution_id=institution.id,
            change_id=change.id,
            decision=decision,
            reason=reason,
            decided_by=officer.subject,
            decided_at=now,
            on_time=on_time,
        )
    )
    change.decided_at = now
    subject = str(institution.id)
    if decision == "file":
        change.status = "approved"
        _assign(institution, change.changes)
        institution.updated_at = now
        institution.version += 1
        await session.flush()
        await outbox.add(
            session,
            InstitutionChangedV1(
                institution_id=institution.id,
                change_id=change.id,
                changed_fields=sorted(change.changes),
                profile=_profile(institution),
                changed_at=now,
            ),
            subject=subject,
            at=now,
        )
        if "classes" in change.changes and rules.carer_ratios is not None:
            # new classes change the carers required; re-check once a roster exists
            if await staff_repository.get_staffing_status(session, institution.id) is not None:
                await staff_service.evaluate_staffing(session, outbox, institution, rules.carer_ratios)
        return
    change.status = "returned" if decision == "return" else "rejected"
    await session.flush()
    await outbox.add(
        session,
        InstitutionChangeRefusedV1(
            institution_id=institution.id,
            change_id=change.id,
            outcome="returned" if decision == "return" else "rejected",
            reason=reason or "",
            decided_by=officer.subject,
            decided_at=now,
        ),
        subject=subject,
        at=now,
    )


async def deregister(
    session: AsyncSession, outbox: Outbox, institution_id: uuid.UUID, *, reason: str, officer: Principal
) -> Institution:
    institution = await _locked(session, institution_id, officer)
    if institution.status == "suspended":
        raise _illegal(institution, "直接注销：暂停收托的机构由两名备案人员作出注销备案或恢复收托的决定")
    if institution.status != "filed":
        raise _illegal(institution, "注销（仅已备案机构可注销）")
    await apply_deregistration(session, outbox, institution, reason=reason, officer=officer)
    return institution


async def apply_deregistration(
    session: AsyncSession, outbox: Outbox, institution: Institution, *, reason: str, officer: Principal
) -> None:
    """注销 a locked institution (filed, or suspended when the officers so decide): a pending
    change is refused, the event written."""
    now = datetime.now(UTC)
    change = await repository.pending_change(session, institution.id)
    if change is not None:  # a change of an institution that closes is moot: refuse it, visibly
        change.status = "rejected"
        change.decided_at = now
        await outbox.add(
            session,
            InstitutionChangeRefusedV1(
                institution_id=institution.id,
                change_id=change.id,
                outcome="rejected",
                reason="机构已注销，变更不再办理",
                decided_by=officer.subject,
                decided_at=now,
            ),
            subject=str(institution.id),
            at=now,
        )
    institution.status = "deregistered"
    institution.deregistered_at = now
    institution.updated_at = now
    institution.version += 1
    await session.flush()
    await outbox.add(
        session,
        InstitutionDeregisteredV1(institution_id=institution.id, reason=reason, deregistered_at=now),
        subject=str(institution.id),
        at=now,
    )


async def get(session: AsyncSession, institution_id: uuid.UUID) -> tuple[Institution, InstitutionChange | None]:
    institution = await repository.get(session, institution_id)
    if institution is None:
        raise InstitutionNotFound()
    return institution, await repository.pending_change(session, institution.id)


async def overdue_decisions(session: AsyncSession, today: date) -> int:
    return await repository.count_overdue(session, today)
