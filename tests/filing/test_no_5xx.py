"""No input produces a 5xx: generated bodies and query strings against every filing write and the
public directory. Each answer is a success or a 4xx that names a field and a code."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.db import Database
from tests.filing.support import filing_body, insert_filed_institution
from tests.support import create_app, running, settings_for, token

OFFICER = token("filing_officer", districts=["440106"])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = list(filing_body({}).keys())


@st.composite
def mutated_filing(draw: st.DrawFn) -> dict[str, Any]:
    """A valid-looking filing with some fields replaced by arbitrary JSON, dropped or added."""
    body = filing_body({"business_licence": "0" * 64})
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        action = draw(st.sampled_from(["replace", "drop"]))
        if action == "drop":
            body.pop(name, None)
        else:
            body[name] = draw(json_values)
    return body


@pytest.fixture
async def client(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    db = await rollback_db("filing")
    async with db.transaction() as session:
        institution_id = await insert_filed_institution(session)
    app = create_app("filing", settings_for("filing", run_background_workers=False), db)
    async with running(app) as c:
        yield c, str(institution_id)


def assert_clean_4xx_or_success(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"]
        assert error["message"]
        if response.status_code == 422:
            assert error["field"]


HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HYPOTHESIS
@given(body=mutated_filing())
async def test_filing_submission_never_5xx(client: tuple[httpx.AsyncClient, str], body: dict[str, Any]) -> None:
    c, _ = client
    assert_clean_4xx_or_success(await c.post("/v1/institutions", json=body, headers=OFFICER))


@HYPOTHESIS
@given(
    body=json_values, path=st.sampled_from(["decision", "changes", "deregistration", "staff", "annual-reports/2025"])
)
async def test_institution_writes_never_5xx(client: tuple[httpx.AsyncClient, str], body: Any, path: str) -> None:
    c, institution_id = client
    for target in (institution_id, str(uuid.uuid4())):
        assert_clean_4xx_or_success(await c.post(f"/v1/institutions/{target}/{path}", json=body, headers=OFFICER))


@HYPOTHESIS
@given(
    params=st.dictionaries(
        st.sampled_from(["district", "street", "puhui", "service_type", "near", "radius_km", "page", "page_size"]),
        st.text(max_size=25),
        max_size=5,
    )
)
async def test_public_directory_never_5xx(client: tuple[httpx.AsyncClient, str], params: dict[str, str]) -> None:
    c, _ = client
    assert_clean_4xx_or_success(await c.get("/v1/public/institutions", params=params))
