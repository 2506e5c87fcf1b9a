"""Every successful write leaves an append-only audit row: who, what, when (refused writes: test_refused_audit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import Database
from tests.filing.support import filing_body, upload_documents
from tests.support import create_app, running, settings_for, token

OFFICER = token("filing_officer", subject="officer-audit", districts=["440106"])
DECIDER = token("filing_officer", subject="officer-audit-2", districts=["440106"])  # four eyes
OPS = token("ops", subject="ops-audit")


async def test_writes_are_audited_with_who_what_and_when(rollback_db: Callable[[str], Awaitable[Database]]) -> None:
    db = await rollback_db("filing")
    app = create_app("filing", settings_for("filing", run_background_workers=False), db)
    async with running(app) as client:
        documents = await upload_documents(client, OFFICER)
        created = await client.post("/v1/institutions", json=filing_body(documents), headers=OFFICER)
        assert created.status_code == 201
        institution_id = created.json()["id"]
        decided = await client.post(
            f"/v1/institutions/{institution_id}/decision", json={"decision": "file"}, headers=DECIDER
        )
        assert decided.status_code == 200
        refused = await client.post("/v1/institutions", json={"uscc": "bad"}, headers=OFFICER)
        assert refused.status_code == 422
        await client.get(f"/v1/institutions/{institution_id}", headers=OFFICER)  # reads are not audited

        page = (await client.get("/v1/audit?subject=officer-audit&outcome=committed", headers=OPS)).json()
        routes = [(e["method"], e["route"]) for e in page["entries"]]
        assert routes == [("POST", "/v1/documents")] * len(documents) + [("POST", "/v1/institutions")]
        decider = (await client.get("/v1/audit?subject=officer-audit-2&outcome=committed", headers=OPS)).json()
        assert [(e["method"], e["route"]) for e in decider["entries"]] == [
            ("POST", "/v1/institutions/{institution_id}/decision")
        ]
        last = decider["entries"][-1]
        assert last["subject"] == "officer-audit-2"
        assert last["roles"] == ["filing_officer"]
        assert last["districts"] == ["440106"]
        assert last["path_params"] == {"institution_id": institution_id}
        assert last["at"]
        assert (await client.get("/v1/audit", headers=OFFICER)).status_code == 403

    # The service's runtime role may not; that the trigger refuses the owner too is in test_database_roles.
    async with db.transaction() as session:
        with pytest.raises(DBAPIError, match="permission denied for table audit_log"):
            async with session.begin_nested():
                await session.execute(text("UPDATE audit_log SET subject = 'someone-else'"))
        with pytest.raises(DBAPIError, match="permission denied for table audit_log"):
            async with session.begin_nested():
                await session.execute(text("DELETE FROM audit_log"))
