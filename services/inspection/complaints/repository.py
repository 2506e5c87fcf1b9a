"""SQL of complaints."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inspection.complaints.models import Complaint
from services.inspection.tasks.models import PublishedResult


async def add(session: AsyncSession, complaint: Complaint) -> None:
    session.add(complaint)
    await session.flush()


async def get(session: AsyncSession, complaint_id: uuid.UUID, *, lock: bool = False) -> Complaint | None:
    stmt = select(Complaint).where(Complaint.id == complaint_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_receipt(session: AsyncSession, receipt_sha256: str) -> Complaint | None:
    stmt = select(Complaint).where(Complaint.receipt_sha256 == receipt_sha256)
    return (await session.execute(stmt)).scalar_one_or_none()


async def page(
    session: AsyncSession, *, district: str | None, status: str | None, offset: int, limit: int
) -> tuple[Sequence[Complaint], int]:
    conditions = []
    if district is not None:
        conditions.append(Complaint.district_code == district)
    if status is not None:
        conditions.append(Complaint.status == status)
    total = (await session.execute(select(func.count()).select_from(Complaint).where(*conditions))).scalar_one()
    rows = (
        await session.execute(
            select(Complaint)
            .where(*conditions)
            .order_by(Complaint.received_at.desc(), Complaint.id)
            .offset(offset)
            .limit(limit)
        )
    ).scalars()
    return rows.all(), int(total)


async def counts(
    session: AsyncSession, *, since: datetime | None, until: datetime | None
) -> Sequence[tuple[str, str, str, int]]:
    """(district, status, category, count) over complaints received in [since, until)."""
    conditions = []
    if since is not None:
        conditions.append(Complaint.received_at >= since)
    if until is not None:
        conditions.append(Complaint.received_at < until)
    stmt = (
        select(Complaint.district_code, Complaint.status, Complaint.category, func.count())
        .where(*conditions)
        .group_by(Complaint.district_code, Complaint.status, Complaint.category)
    )
    return [(d, s, c, int(n)) for d, s, c, n in (await session.execute(stmt)).all()]


async def published_result(session: AsyncSession, task_id: uuid.UUID) -> PublishedResult | None:
    return await session.get(PublishedResult, task_id)
