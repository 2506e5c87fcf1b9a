"""Tolerant readers, strict writers (issue 17 item 2), for every event type in the catalogue.

A producer one version ahead (N+1) adds an optional field anywhere in a payload and may set a new
CloudEvents extension attribute: today's decoding must read exactly the event it reads without them,
not dead-letter it. What our own code constructs stays strict. The consumers' side, on the real
broker, is tests/e2e/test_schema_evolution.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events import CATALOGUE, CloudEvent, EventData, decode
from shared.events.filing import InstitutionProfile
from shared.outbox import Outbox
from tests.event_examples import (
    AT,
    FUTURE_EXTENSION,
    FUTURE_FIELD,
    FUTURE_VALUE,
    example,
    field_unknown_to_todays_profile,
    nesting_levels,
    with_future_fields,
)

EVENT_TYPES = sorted(CATALOGUE)


def wire(envelope: CloudEvent, *, data: dict[str, Any] | None = None, **extensions: Any) -> bytes:
    body = json.loads(envelope.to_json())
    if data is not None:
        body["data"] = data
    body.update(extensions)
    return json.dumps(body, ensure_ascii=False).encode()


def published(event_type: str) -> tuple[EventData, CloudEvent]:
    data = example(CATALOGUE[event_type])
    return data, Outbox(source="/services/next-version").envelope(data, subject="subject-1", at=AT)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_an_event_from_the_next_version_decodes_exactly_as_without_its_new_fields(event_type: str) -> None:
    model = CATALOGUE[event_type]
    data, envelope = published(event_type)
    future = with_future_fields(model, envelope.data)
    # The N+1 payload really carries a field today's model does not know, at every nesting level: a
    # strict reading rejects each one (so the tolerant reading below has something to tolerate).
    levels = nesting_levels(model, envelope.data)
    assert json.dumps(future).count(f'"{FUTURE_FIELD}"') == levels
    with pytest.raises(ValidationError) as strict:
        model.model_validate(future)
    refused = [e["type"] for e in strict.value.errors() if e["loc"][-1] == FUTURE_FIELD]
    assert refused == ["extra_forbidden"] * levels

    today = decode(wire(envelope))
    next_version = decode(wire(envelope, data=future, **{FUTURE_EXTENSION: "v2"}))

    assert today.data == data
    assert next_version.data == today.data
    assert next_version.data.model_dump(mode="json") == envelope.data
    assert next_version.type == today.type == event_type
    assert next_version.received is None  # no upcast happened
    # The envelope keeps what was published (the ledger records the event as received): the new
    # attribute as an extension, the new fields in its raw data; everything else is today's envelope.
    assert next_version.envelope.model_extra == {FUTURE_EXTENSION: "v2"}
    assert next_version.envelope.data == future
    assert next_version.envelope.model_dump(exclude={FUTURE_EXTENSION, "data"}) == today.envelope.model_dump(
        exclude={"data"}
    )


def test_a_new_field_in_the_nested_profile_is_ignored_on_reading_not_dead_lettered() -> None:
    """The rolling-deploy failure of issue 17: a consumer one version behind used to raise
    ``PoisonEvent: invalid_payload … profile.<new field>: Extra inputs are not permitted``
    (``outdoor_area_m2`` while this checkout's profile lacks it; see field_unknown_to_todays_profile)."""
    filed = next(t for t in EVENT_TYPES if t.endswith("filing.institution.filed.v1"))
    data, envelope = published(filed)
    body = dict(envelope.data)
    body["profile"] = {**body["profile"], field_unknown_to_todays_profile(): 120.5}
    body["profile"]["classes"] = [{**c, "teacher_count": 3} for c in body["profile"]["classes"]]
    assert decode(wire(envelope, data=body)).data == data


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_what_our_code_constructs_stays_strict(event_type: str) -> None:
    model = CATALOGUE[event_type]
    fields = example(model).model_dump(exclude_computed_fields=True)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model(**fields, **{FUTURE_FIELD: FUTURE_VALUE})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**fields, FUTURE_FIELD: FUTURE_VALUE})


def test_a_nested_model_constructed_with_an_unknown_field_is_refused() -> None:
    filed = CATALOGUE["cn.gov.gz.childcare.filing.institution.filed.v1"]
    profile = example(filed).model_dump(exclude_computed_fields=True)["profile"]
    with pytest.raises(ValidationError, match="outdoor_area_m2_typo"):
        InstitutionProfile(**{**profile, "outdoor_area_m2_typo": 1.0})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        InstitutionProfile.model_validate({**profile, "classes": [{"class_type": "infant", "size": 5, "x": 1}]})
