"""A suspended institution (暂停收托, filing's ``institution.suspended.v1``) offers no places: the
statistics count it as filed but with none of its slots while suspended, and count them again from
its resumption (``institution.resumed.v1``); real Kafka, real PostgreSQL. The events arrive out of
order (the resumption first) and one is delivered twice: the figures do not change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from devstack.kafka import LocalKafka
from shared.events import CATALOGUE, CloudEvent
from shared.events.filing import InstitutionFiledV1, InstitutionResumedV1, InstitutionSuspendedV1
from tests.reporting.support import envelope, profile
from tests.support import Platform, eventually, produce_raw, token

OPS = token("ops")
BEIJING = timezone(timedelta(hours=8))
# 从化 (440117): the district no other test gives institutions of its own here
CONGHUA = "440117"
SUSPENDED = uuid.uuid4()
OTHER = uuid.uuid4()


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 10, tzinfo=BEIJING)


def story() -> list[CloudEvent]:
    def filed(iid: uuid.UUID, total: int, puhui: int, n: int) -> CloudEvent:
        p = profile(
            uscc=f"91440117MA59C8XK{n}C",
            name=f"从化区托育园{n}",
            district_code=CONGHUA,
            street_code="440117002",
            total_slots=total,
            puhui_slots=puhui,
        )
        data = InstitutionFiledV1(institution_id=iid, profile=p, decided_by="officer-1", decided_at=at(2023, 3, 1))
        return envelope(data, str(iid), at=at(2023, 3, 1))

    suspended = envelope(
        InstitutionSuspendedV1(
            institution_id=SUSPENDED,
            suspended_at=at(2024, 6, 1),
            reason="经监督检查确认发生虐待、殴打、伤害或性侵害婴幼儿事件，依法暂停收托",
            legal_basis="《人口与计划生育法》（2021修正）第41条第2款",
            violation_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
        ),
        str(SUSPENDED),
        at=at(2024, 6, 1),
    )
    resumed = envelope(
        InstitutionResumedV1(
            institution_id=SUSPENDED,
            reason="整改到位，经复查符合要求",
            proposed_by="officer-1",
            decided_by="officer-2",
            resumed_at=at(2025, 2, 1),
        ),
        str(SUSPENDED),
        at=at(2025, 2, 1),
    )
    return [filed(SUSPENDED, 30, 30, 1), filed(OTHER, 20, 5, 2), resumed, suspended, suspended]


async def conghua(client: Any, year: int) -> dict[str, Any]:
    response = await client.get(f"/v1/stats/districts?year={year}")
    assert response.status_code == 200, response.text
    [district] = [d for d in response.json()["districts"] if d["code"] == CONGHUA]
    return dict(district)


async def test_a_suspended_institution_offers_no_places_until_resumed(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    events = story()
    for event in events:
        topic = f"{namespace}{CATALOGUE[event.type].topic}"
        await produce_raw(kafka.bootstrap, topic, [(event.subject.encode(), event.to_json().encode())])
    async with Platform(kafka.bootstrap, namespace, {"reporting": fresh_db("reporting")}) as p:
        client = p.clients["reporting"]

        async def consumed() -> bool:
            # four distinct events: the duplicate is recorded once
            return bool((await client.get("/v1/ledger?limit=1", headers=OPS)).json()["tree_size"] == 4)

        await eventually(consumed, within=40)
        # 2023: both filed and offering
        before = await conghua(client, 2023)
        assert before["institutions"] == 2
        assert before["slots"]["value"] == 50
        assert before["puhui"]["slots"] == 35
        # 2024 (at its end): suspended since June — still filed, none of its 30 places
        during = await conghua(client, 2024)
        assert during["institutions"] == 2
        assert during["slots"]["value"] == 20
        assert during["puhui"]["slots"] == 5
        # 2025: resumed in February, its places count again
        after = await conghua(client, 2025)
        assert after["institutions"] == 2
        assert after["slots"]["value"] == 50
        assert after["puhui"]["slots"] == 35
