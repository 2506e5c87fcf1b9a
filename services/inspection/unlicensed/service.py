"""Unlicensed-operator cases (无证照机构治理): opened from a complaint's triage or from a confirmed
UNREGISTERED_OPERATION / UNFILED_OPERATION violation; each carries a guidance plan (一园一策: steps
with deadlines) that supervisors edit; it ends ``filed`` (the filing service's InstitutionFiledV1
for the USCC, or the name and address, recorded on the case) or ``closed_down`` (an enforcement
record). No commits here; every change writes its event in the caller's transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.pool.models import TargetInstitution
from services.inspection.unlicensed import repository
from services.inspection.unlicensed.errors import CaseClosed, CaseNotFound, StepAlreadyCompleted, StepNotFound
from services.inspection.unlicensed.models import GuidanceStepRow, UnlicensedCase
from shared.errors import InvalidInput
from shared.events.filing import InstitutionFiledV1
from shared.events.inspection import (
    GuidancePlanSetV1,
    GuidanceStep,
    GuidanceStepCompletedV1,
    UnlicensedCaseClosedV1,
    UnlicensedCaseOpenedV1,
)
from shared.outbox import Outbox
from shared.workdays import china_today

UNLICENSED_CODES = frozenset({"UNREGISTERED_OPERATION", "UNFILED_OPERATION"})
STATUS_ZH = {"open": "治理中", "filed": "已备案", "closed_down": "已依法关停"}
# The default 一园一策 plan a case starts with (days after opening); supervisors edit it per case.
DEFAULT_PLAN: tuple[tuple[str, int], ...] = (
    ("上门告知备案要求与无证经营法律责任，指导停止新增收托", 5),
    ("指导办理营业执照（经营范围含托育服务）并整改场地、消防、卫生条件", 30),
    ("指导向所在区卫生健康部门提交托育机构备案", 60),
)
_SPACE = re.compile(r"\s+")


def identity_key(value: str | None) -> str | None:
    """Name or address compared without whitespace (the same place typed twice)."""
    if value is None:
        return None
    key = _SPACE.sub("", value)
    return key or None


@dataclass(frozen=True)
class Site:
    district_code: str
    street_code: str | None = None
    address: str | None = None
    operator_name: str | None = None
    uscc: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class StepInput:
    title_zh: str
    due_on: date
    step_id: uuid.UUID | None = None
    note: str | None = None


async def get(session: AsyncSession, case_id: uuid.UUID, *, lock: bool = False) -> UnlicensedCase:
    case = await repository.get(session, case_id, lock=lock)
    if case is None:
        raise CaseNotFound()
    return case


async def steps(session: AsyncSession, case_id: uuid.UUID) -> Sequence[GuidanceStepRow]:
    return await repository.steps(session, case_id)


def _open(case: UnlicensedCase) -> None:
    if case.status != "open":
        raise CaseClosed()


async def open_case(
    session: AsyncSession,
    outbox: Outbox,
    site: Site,
    *,
    source: str,
    complaint_id: uuid.UUID | None = None,
    violation_id: uuid.UUID | None = None,
    by: str,
    now: datetime,
) -> UnlicensedCase:
    case = UnlicensedCase(
        id=uuid.uuid4(),
        source=source,
        complaint_id=complaint_id,
        violation_id=violation_id,
        district_code=site.district_code,
        street_code=site.street_code,
        address=site.address,
        operator_name=site.operator_name,
        uscc=site.uscc,
        latitude=site.latitude,
        longitude=site.longitude,
        status="open",
        opened_by=by,
        opened_at=now,
    )
    await repository.add(session, case)
    await outbox.add(
        session,
        UnlicensedCaseOpenedV1(
            case_id=case.id,
            source="complaint" if source == "complaint" else "inspection",
            complaint_id=complaint_id,
            violation_id=violation_id,
            district_code=case.district_code,
            street_code=case.street_code,
            opened_by=by,
            opened_at=now,
        ),
        subject=str(case.id),
    )
    today = china_today(now)
    await set_plan(
        session,
        outbox,
        case,
        [StepInput(title_zh=t, due_on=today + timedelta(days=d)) for t, d in DEFAULT_PLAN],
        by=by,
        now=now,
    )
    await _close_if_filed(session, outbox, case, now=now)
    return case


async def set_plan(
    session: AsyncSession, outbox: Outbox, case: UnlicensedCase, new: Sequence[StepInput], *, by: str, now: datetime
) -> list[GuidanceStepRow]:
    """Replace the open steps with ``new`` (a step named by ``step_id`` keeps its id); completed
    steps are history and stay as they were."""
    _open(case)
    existing = list(await repository.steps(session, case.id))
    by_id = {s.id: s for s in existing}
    kept: set[uuid.UUID] = set()
    position = max((s.position for s in existing if s.completed_at is not None), default=-1) + 1
    rows: list[GuidanceStepRow] = []
    today = china_today(now)
    for n, step in enumerate(new):
        if step.due_on < today:
            raise InvalidInput("步骤期限不能早于今天", code="due_in_past", field=f"steps.{n}.due_on")
        if step.step_id is not None:
            row = by_id.get(step.step_id)
            if row is None:
                raise StepNotFound(field=f"steps.{n}.step_id")
            if row.completed_at is not None:
                raise StepAlreadyCompleted("已完成的步骤不能修改", field=f"steps.{n}.step_id")
            row.title_zh, row.due_on, row.note, row.position = step.title_zh, step.due_on, step.note, position
            kept.add(row.id)
        else:
            row = GuidanceStepRow(
                id=uuid.uuid4(),
                case_id=case.id,
                position=position,
                title_zh=step.title_zh,
                due_on=step.due_on,
                note=step.note,
            )
            session.add(row)
        rows.append(row)
        position += 1
    for row in existing:
        if row.completed_at is None and row.id not in kept:
            await repository.delete_step(session, row)
    await session.flush()
    await outbox.add(
        session,
        GuidancePlanSetV1(
            case_id=case.id,
            district_code=case.district_code,
            steps=[GuidanceStep(step_id=r.id, title_zh=r.title_zh, due_on=r.due_on) for r in rows],
            set_by=by,
            set_at=now,
        ),
        subject=str(case.id),
    )
    return rows


async def complete_step(
    session: AsyncSession,
    outbox: Outbox,
    case_id: uuid.UUID,
    step_id: uuid.UUID,
    *,
    note: str | None,
    by: str,
    now: datetime,
) -> GuidanceStepRow:
    case = await get(session, case_id, lock=True)
    _open(case)
    step = next((s for s in await repository.steps(session, case.id) if s.id == step_id), None)
    if step is None:
        raise StepNotFound()
    if step.completed_at is not None:
        raise StepAlreadyCompleted()
    step.completed_at = now
    step.completed_by = by
    if note:
        step.note = note
    await session.flush()
    await outbox.add(
        session,
        GuidanceStepCompletedV1(
            case_id=case.id,
            step_id=step.id,
            due_on=step.due_on,
            overdue=china_today(now) > step.due_on,
            completed_by=by,
            completed_at=now,
        ),
        subject=str(case.id),
    )
    return step


async def update_site(
    session: AsyncSession, outbox: Outbox, case_id: uuid.UUID, changes: dict[str, Any], *, now: datetime
) -> UnlicensedCase:
    """Record what is learnt about the operator (USCC, name, address, location). If a filing with
    that identity is already known, the case closes as filed at once (the filing came first)."""
    case = await get(session, case_id, lock=True)
    _open(case)
    for name, value in changes.items():
        setattr(case, name, value)
    if (case.latitude is None) != (case.longitude is None):
        raise InvalidInput("经纬度须同时填写", code="location_incomplete", field="latitude")
    await session.flush()
    await _close_if_filed(session, outbox, case, now=now)
    return case


async def close_down(
    session: AsyncSession, outbox: Outbox, case_id: uuid.UUID, enforcement: dict[str, Any], *, by: str, now: datetime
) -> UnlicensedCase:
    case = await get(session, case_id, lock=True)
    _open(case)
    case.status = "closed_down"
    case.enforcement = enforcement
    case.closed_by = by
    case.closed_at = now
    await session.flush()
    await outbox.add(
        session,
        UnlicensedCaseClosedV1(
            case_id=case.id,
            outcome="closed_down",
            district_code=case.district_code,
            enforcement_decision_no=str(enforcement["decision_no"]),
            opened_at=case.opened_at,
            closed_at=now,
        ),
        subject=str(case.id),
    )
    return case


async def _close_as_filed(
    session: AsyncSession, outbox: Outbox, case: UnlicensedCase, institution_id: uuid.UUID, *, by: str, now: datetime
) -> None:
    case.status = "filed"
    case.institution_id = institution_id
    case.closed_by = by
    case.closed_at = now
    await session.flush()
    await outbox.add(
        session,
        UnlicensedCaseClosedV1(
            case_id=case.id,
            outcome="filed",
            district_code=case.district_code,
            institution_id=institution_id,
            opened_at=case.opened_at,
            closed_at=now,
        ),
        subject=str(case.id),
    )


async def _close_if_filed(session: AsyncSession, outbox: Outbox, case: UnlicensedCase, *, now: datetime) -> None:
    match: TargetInstitution | None = await repository.filed_match(
        session,
        uscc=case.uscc,
        name_key=identity_key(case.operator_name),
        address_key=identity_key(case.address),
        district_code=case.district_code,
    )
    if match is not None:
        await _close_as_filed(session, outbox, case, match.institution_id, by="filing", now=now)


async def on_institution_filed(session: AsyncSession, outbox: Outbox, data: InstitutionFiledV1) -> int:
    """Consumer step: every open case naming this USCC (or name + address) closes as filed. The
    case's close time is the filing decision's time, so a replay writes the same facts."""
    profile = data.profile
    name_key, address_key = identity_key(profile.name), identity_key(profile.address)
    matched = await repository.open_matching(
        session,
        uscc=profile.uscc,
        name_key=name_key or "",
        address_key=address_key or "",
        district_code=profile.district_code,
    )
    for case in matched:
        await _close_as_filed(session, outbox, case, data.institution_id, by="filing", now=data.decided_at)
    return len(matched)


class InspectedTask(Protocol):
    """What the review hook reads of a task: the case whose site it inspected, if any."""

    @property
    def case_id(self) -> uuid.UUID | None: ...


class ConfirmedViolation(Protocol):
    """What the review hook reads of a confirmed violation (tasks own the rows; cases only link one)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def code(self) -> str: ...


async def on_violation_confirmed(
    session: AsyncSession,
    outbox: Outbox,
    *,
    task: InspectedTask,
    violations: Sequence[ConfirmedViolation],
    institution: TargetInstitution | None,
    by: str,
    now: datetime,
) -> UnlicensedCase | None:
    """Review hook: a confirmed unregistered/unfiled-operation violation belongs to a case — the
    task's own (a targeted inspection of a case's site) or a new one opened here."""
    found = [v for v in violations if v.code in UNLICENSED_CODES]
    if not found:
        return None
    if task.case_id is not None:
        case = await repository.get(session, task.case_id, lock=True)
        if case is not None and case.violation_id is None:
            case.violation_id = found[0].id
            await session.flush()
        return case
    # An inspected filed institution found operating unfiled/unregistered (e.g. another site): the
    # case starts in its district; the supervisor records the actual site's identity on the case.
    district = institution.district_code if institution is not None else ""
    street = institution.street_code if institution is not None else None
    return await open_case(
        session,
        outbox,
        Site(district_code=district, street_code=street),
        source="inspection",
        violation_id=found[0].id,
        by=by,
        now=now,
    )


async def list_cases(
    session: AsyncSession, *, district: str | None, status: str | None, page: int, page_size: int
) -> tuple[Sequence[UnlicensedCase], int]:
    return await repository.cases(
        session, district=district, status=status, offset=(page - 1) * page_size, limit=page_size
    )


async def overdue_steps(session: AsyncSession, *, now: datetime) -> int:
    return await repository.overdue_steps(session, china_today(now))
