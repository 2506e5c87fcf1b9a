"""Zero tolerance for child abuse (虐童), end to end across services on the real broker: the filing
service hires a person, the inspection topic carries a confirmed child-abuse violation naming that
person, and then the institution is at the lowest grade and on the serious-dishonesty list, the person
is banned for life, and the filing service refuses to hire the person anywhere else."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.kafka import LocalKafka
from shared.auth import mint_token
from shared.events import decode
from shared.events.credit import CreditListEnteredV1, InstitutionGradedV1, PersonBannedV1
from shared.identifiers import resident_id_check_char
from shared.pii import PiiVault
from shared.settings import ServiceSettings
from shared.topics import CREDIT_EVENTS
from shared.workdays import china_today
from tests.credit.support import produce_raw_envelopes, violation
from tests.filing.support import insert_filed_institution
from tests.support import Platform, eventually, read_topic, settings_for, token

TODAY = china_today()
CREDIT_OFFICER = token("credit_officer")
AGENCY = token("agency:market_regulation")


def filing_officer() -> dict[str, str]:
    jwt = mint_token(
        ServiceSettings(environment="test"), subject="officer-01", roles=["filing_officer"], districts=["440106"]
    )
    return {"Authorization": f"Bearer {jwt}"}


def new_resident_id() -> str:
    first17 = f"440106{1985 + uuid.uuid4().int % 20}0612{uuid.uuid4().int % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def hire_body(id_number: str) -> dict[str, Any]:
    return {
        "name": "张某",
        "id_number": id_number,
        "role": "carer",
        "certificates": [{"kind": "保育师证", "number": "BY-2024-00099", "expires_on": "2029-06-30"}],
        "health_certificate_expires_on": (TODAY + timedelta(days=300)).isoformat(),
        "training": [{"hours": 8, "date": (TODAY - timedelta(days=60)).isoformat(), "topic": "婴幼儿急救"}],
        "hired_on": (TODAY - timedelta(days=7)).isoformat(),
    }


async def test_child_abuse_lowest_grade_listed_banned_and_refused_elsewhere(
    kafka: LocalKafka, namespace: str, fresh_db: Callable[[str], str]
) -> None:
    settings = settings_for("credit")
    vault = PiiVault.from_secrets(settings.pii_hmac_secret, settings.pii_encryption_secret)
    officer = filing_officer()
    async with Platform(kafka.bootstrap, namespace, {"filing": fresh_db("filing"), "credit": fresh_db("credit")}) as p:
        filing, credit = p.clients["filing"], p.clients["credit"]
        async with p.dbs["filing"].transaction() as session:
            first = await insert_filed_institution(session)
            second = await insert_filed_institution(session, name="天河区小星星托育园")

        async def ready() -> bool:
            return [(await c.get("/readyz")).status_code for c in (filing, credit)] == [200, 200]

        await eventually(ready, within=30)
        id_number = new_resident_id()
        ref = vault.person_ref(id_number)
        hired = await filing.post(f"/v1/institutions/{first}/staff", json=hire_body(id_number), headers=officer)
        assert hired.status_code == 201, hired.text

        async def person_record_opened() -> bool:
            return (await credit.get(f"/v1/credit/persons/{ref}", headers=CREDIT_OFFICER)).status_code == 200

        await eventually(person_record_opened, within=30)  # from filing's StaffHiredV1

        # The inspection service's confirmed violation, as its relay would publish it.
        confirmed_at = datetime.now(UTC) - timedelta(minutes=5)
        raw = violation(
            first,
            "critical",
            confirmed_at,
            child_abuse=True,
            person_ref=ref,
            legal_basis="《人口与计划生育法》第四十一条第二款",
        )
        await produce_raw_envelopes(p.bootstrap, namespace, [raw])
        violation_event_id = json.loads(raw)["id"]

        async def institution_at_d() -> bool:
            response = await credit.get(f"/v1/public/credit/institutions/{first}")
            return response.status_code == 200 and response.json()["grade"] == "D"

        await eventually(institution_at_d, within=30)
        public = (await credit.get(f"/v1/public/credit/institutions/{first}")).json()
        assert public["lists"] == ["serious_dishonesty"]

        record = (await credit.get(f"/v1/credit/institutions/{first}", headers=CREDIT_OFFICER)).json()
        assert record["grade"] == "D"
        assert record["forced_lowest_grade"] is True
        assert record["score"] == 40  # 100 - 60 (violation.child_abuse in v1)
        assert sum(line["points"] for line in record["lines"]) == record["score"]
        abuse = next(line for line in record["lines"] if line["rule_id"] == "violation.child_abuse")
        assert abuse["source_event_id"] == violation_event_id
        assert "不予信用修复" in abuse["legal_basis"]
        assert [m["list_name"] for m in record["lists"]] == ["serious_dishonesty"]

        person = (await credit.get(f"/v1/credit/persons/{ref}", headers=CREDIT_OFFICER)).json()
        assert person["banned"] is True
        assert person["grade"] == "D"
        assert person["lists"][0]["until"] is None, "a life-long ban"
        assert id_number not in json.dumps(person)

        # Filing refuses to hire the person at another institution once the ban has reached it.
        async def refused_elsewhere() -> bool:
            response = await filing.post(f"/v1/institutions/{second}/staff", json=hire_body(id_number), headers=officer)
            assert response.status_code in (201, 409), response.text
            if response.status_code == 201:  # the ban had not arrived yet: undo, try again
                left = await filing.delete(f"/v1/institutions/{second}/staff/{response.json()['id']}", headers=officer)
                assert left.status_code == 200
                return False
            return bool(response.json()["error"]["code"] == "person_banned")

        await eventually(refused_elsewhere, within=30)

        # Child abuse is never repairable.
        repair = await credit.post(
            "/v1/credit/repairs",
            json={"entry_id": abuse["entry_id"], "evidence_sha256": ["a" * 64], "commitment": "承诺整改"},
            headers=CREDIT_OFFICER,
        )
        assert repair.status_code == 409
        assert repair.json()["error"]["code"] == "credit_entry_not_repairable"

        # The lists, for authorised agencies only.
        dishonest = await credit.get("/v1/credit/lists/serious_dishonesty", headers=AGENCY)
        assert dishonest.status_code == 200
        # the institution was filed straight into the filing database (no filing event), so credit
        # opened its record from the violation and knows no name for it
        assert [(i["subject_id"], i["display_name"]) for i in dishonest.json()["items"]] == [(str(first), None)]
        banned = await credit.get("/v1/credit/lists/industry_ban", headers=CREDIT_OFFICER)
        assert [i["subject_id"] for i in banned.json()["items"]] == [ref]
        assert (await credit.get("/v1/credit/lists/industry_ban", headers=token("inspector"))).status_code == 403
        assert (await credit.get("/v1/credit/lists/industry_ban")).status_code == 401
        assert (await credit.get("/v1/credit/lists/blacklist", headers=AGENCY)).status_code == 422

        # What credit published on its topic.
        records = await read_topic(p.bootstrap, p.topic(CREDIT_EVENTS))
        events = [decode(r.value) for r in records]
        graded = [e.data for e in events if isinstance(e.data, InstitutionGradedV1)]
        assert [(g.previous_grade, g.grade, g.score) for g in graded] == [(None, "D", 40.0)]
        entered = sorted(
            (e.data.list_name, e.data.subject_id) for e in events if isinstance(e.data, CreditListEnteredV1)
        )
        assert entered == sorted([("serious_dishonesty", str(first)), ("industry_ban", ref)])
        bans = [e.data for e in events if isinstance(e.data, PersonBannedV1)]
        assert len(bans) == 1
        assert bans[0].person_ref == ref
        assert bans[0].until is None
        assert bans[0].cause_event_id == violation_event_id
