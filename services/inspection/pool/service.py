"""The pools (名录库): the target pool projected from filing and credit events, and the inspector
pool with declared conflicts of interest (回避) managed by supervisors.

No commits here: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.errors import (
    BadgeNumberTaken,
    ConflictAlreadyDeclared,
    InspectorNotFound,
    InstitutionNotInPool,
    SubjectTaken,
)
from services.inspection.pool import repository
from services.inspection.pool.models import Inspector, InspectorConflict, TargetInstitution
from services.inspection.tasks import service as tasks
from shared.auth import Principal
from shared.events.credit import InstitutionGradedV1
from shared.events.filing import (
    InstitutionChangedV1,
    InstitutionDeregisteredV1,
    InstitutionFiledV1,
    InstitutionProfile,
    StaffHiredV1,
    StaffLeftV1,
)
from shared.outbox import Outbox

# --- projection ----------------------------------------------------------------------------------


def _profile_values(institution_id: uuid.UUID, profile: InstitutionProfile) -> dict[str, Any]:
    return {
        "institution_id": institution_id,
        "uscc": profile.uscc,
        "name": profile.name,
        "operating_model": profile.operating_model,
        "district_code": profile.district_code,
        "street_code": profile.street_code,
        "address": profile.address,
        "latitude": profile.latitude,
        "longitude": profile.longitude,
        "profile": profile.model_dump(mode="json"),
    }


async def apply_filed(session: AsyncSession, data: InstitutionFiledV1) -> None:
    await repository.upsert_profile(
        session, values=_profile_values(data.institution_id, data.profile), at=data.decided_at, filed=True
    )


async def apply_changed(session: AsyncSession, data: InstitutionChangedV1) -> None:
    # A change only exists for a filed institution, so it may also create the entry.
    await repository.upsert_profile(
        session, values=_profile_values(data.institution_id, data.profile), at=data.changed_at, filed=False
    )


async def apply_deregistered(session: AsyncSession, data: InstitutionDeregisteredV1) -> None:
    await repository.mark_deregistered(session, data.institution_id, data.deregistered_at)


async def apply_graded(session: AsyncSession, data: InstitutionGradedV1, *, event_id: str) -> None:
    await repository.upsert_grade_if_newer(
        session, institution_id=data.institution_id, grade=data.grade, graded_at=data.graded_at, event_id=event_id
    )


async def apply_staff_hired(session: AsyncSession, data: StaffHiredV1) -> None:
    await repository.upsert_staff(
        session,
        {
            "staff_id": data.staff_id,
            "institution_id": data.institution_id,
            "person_ref": data.person_ref,
            "id_masked": data.id_masked,
            "name": data.name,
            "role": data.role,
        },
    )


async def apply_staff_left(session: AsyncSession, data: StaffLeftV1) -> None:
    await repository.staff_left(session, data.staff_id, data.left_on)


@dataclass(frozen=True)
class PoolEntry:
    institution: TargetInstitution
    grade: str | None


async def target_pool(session: AsyncSession, districts: Sequence[str] | None) -> list[PoolEntry]:
    rows = await repository.pool(session, districts=districts)
    return [PoolEntry(institution=r[0], grade=r[1]) for r in rows]


# --- inspector pool ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InspectorInput:
    subject: str
    name: str
    agency: str
    badge_number: str
    districts: list[str]
    active: bool


async def register_inspector(session: AsyncSession, data: InspectorInput, *, by: Principal, now: datetime) -> Inspector:
    if await repository.inspector_by_badge(session, data.badge_number) is not None:
        raise BadgeNumberTaken(f"执法证号 {data.badge_number} 已登记", field="badge_number")
    if await repository.inspector_by_subject(session, data.subject) is not None:
        raise SubjectTaken(field="subject")
    inspector = Inspector(
        id=uuid.uuid4(),
        subject=data.subject,
        name=data.name,
        agency=data.agency,
        badge_number=data.badge_number,
        districts=sorted(set(data.districts)),
        active=data.active,
        created_by=by.subject,
        created_at=now,
    )
    await repository.add_inspector(session, inspector)
    return inspector


@dataclass(frozen=True)
class InspectorUpdate:
    inspector: Inspector
    flagged_task_ids: list[uuid.UUID]  # open tasks now waiting for reassignment (deactivation)


async def update_inspector(
    session: AsyncSession, inspector_id: uuid.UUID, *, active: bool | None, districts: list[str] | None
) -> InspectorUpdate:
    """Deactivation ends the inspector's access to every task at once (``tasks.access``) and flags
    their open tasks for the supervisor to reassign."""
    inspector = await repository.inspector_by_id(session, inspector_id, lock=True)
    if inspector is None:
        raise InspectorNotFound()
    flagged: list[uuid.UUID] = []
    if active is not None:
        deactivated = inspector.active and not active
        inspector.active = active
        if deactivated:
            flagged = [t.id for t in await tasks.flag_open_tasks(session, inspector.id)]
    if districts is not None:
        inspector.districts = sorted(set(districts))
    await session.flush()
    return InspectorUpdate(inspector=inspector, flagged_task_ids=flagged)


@dataclass(frozen=True)
class DeclaredConflict:
    conflict: InspectorConflict
    removed_from_task_ids: list[uuid.UUID]


async def declare_conflict(
    session: AsyncSession,
    outbox: Outbox,
    inspector_id: uuid.UUID,
    institution_id: uuid.UUID,
    reason: str,
    *,
    by: Principal,
    now: datetime,
) -> DeclaredConflict:
    """Record a conflict of interest (回避); an inspector already on an open task of the institution
    is taken off it at once (``TaskInspectorRemovedV1``) and can no longer read or write it."""
    if await repository.inspector_by_id(session, inspector_id) is None:
        raise InspectorNotFound()
    if await repository.get_institution(session, institution_id) is None:
        raise InstitutionNotInPool(field="institution_id")
    if await repository.conflict_exists(session, inspector_id, institution_id):
        raise ConflictAlreadyDeclared(field="institution_id")
    conflict = InspectorConflict(
        id=uuid.uuid4(),
        inspector_id=inspector_id,
        institution_id=institution_id,
        reason=reason,
        declared_by=by.subject,
        declared_at=now,
    )
    await repository.add_conflict(session, conflict)
    removed = await tasks.remove_for_conflict(
        session,
        outbox,
        inspector_id=inspector_id,
        institution_id=institution_id,
        conflict_id=conflict.id,
        by=by,
        now=now,
    )
    return DeclaredConflict(conflict=conflict, removed_from_task_ids=[t.id for t in removed])
