"""Inside a consumed batch the credit service folds the batch's events about one subject in Python
and writes each subject with one row of one upsert (``repository.fold_subject``). That fold must end
where the database's own ON CONFLICT fold ends when the events are written one by one — against the
real upsert, for many random sequences with equal times, missing profiles and late earlier events."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from services.credit import repository
from shared.db import Database

BASE = datetime(2026, 3, 1, 2, tzinfo=UTC)


def _row(rng: random.Random, subject_id: str) -> dict[str, Any]:
    at = BASE + timedelta(hours=rng.randrange(4))  # few distinct times: ties are common
    has_profile = rng.random() < 0.6
    return {
        "id": uuid.uuid4(),
        "subject_kind": "institution",
        "subject_id": subject_id,
        "display_name": f"名称{rng.randrange(5)}" if has_profile else None,
        "district_code": rng.choice(["440106", "440104", "440111"]) if has_profile else None,
        "opened_at": at,
        "opened_by_event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "profile_at": (BASE + timedelta(hours=rng.randrange(3))) if has_profile else None,
    }


async def _stored(session: Any, subject_id: str) -> tuple[Any, ...]:
    row = (
        await session.execute(
            text(
                "SELECT display_name, district_code, opened_at, opened_by_event_id, profile_at"
                " FROM credit_subject WHERE subject_kind = 'institution' AND subject_id = :s"
            ),
            {"s": subject_id},
        )
    ).one()
    return tuple(row)


async def test_folding_a_batch_in_python_equals_upserting_each_event(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> None:
    db = await rollback_db("credit")
    rng = random.Random(20261129)
    async with db.transaction() as session:
        for case in range(80):
            # some subjects exist before the batch (an earlier batch wrote them), some do not
            existing = [_row(rng, "") for _ in range(rng.randrange(0, 3))]
            batch = [_row(rng, "") for _ in range(rng.randrange(1, 6))]
            one_by_one, folded = f"seq-{case}", f"fold-{case}"
            created_one_by_one = []
            for row in existing:
                await repository.upsert_subjects(session, [row | {"subject_id": one_by_one, "id": uuid.uuid4()}])
                await repository.upsert_subjects(session, [row | {"subject_id": folded, "id": uuid.uuid4()}])
            for row in batch:
                inserted = await repository.upsert_subjects(session, [row | {"subject_id": one_by_one}])
                created_one_by_one.append(bool(inserted))
            merged = dict(batch[0]) | {"subject_id": folded, "id": uuid.uuid4()}
            for row in batch[1:]:
                repository.fold_subject(merged, row)
            created_folded = await repository.upsert_subjects(session, [merged])

            assert await _stored(session, folded) == await _stored(session, one_by_one), (case, existing, batch)
            # the record is new to the batch exactly when its first event created it one by one
            assert bool(created_folded) == created_one_by_one[0]
            assert not any(created_one_by_one[1:])


async def test_one_upsert_reports_which_of_many_subjects_it_created(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> None:
    db = await rollback_db("credit")
    rng = random.Random(7)
    async with db.transaction() as session:
        old = [_row(rng, f"old-{i}") for i in range(3)]
        await repository.upsert_subjects(session, old)
        new = [_row(rng, f"new-{i}") for i in range(4)]
        again = [_row(rng, f"old-{i}") for i in range(3)]
        created = await repository.upsert_subjects(session, [*again, *new])
        assert created == {("institution", f"new-{i}") for i in range(4)}
