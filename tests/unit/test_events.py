"""The envelope and the catalogue: what a consumer accepts, what it dead-letters, and how old
versions are lifted to the current model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.events import CATALOGUE, UPCASTERS, CloudEvent, EventData, PoisonEvent, decode, event, upcaster
from shared.events.filing import InstitutionSubmittedV1
from shared.outbox import Outbox
from shared.topics import FILING_EVENTS


def submitted() -> InstitutionSubmittedV1:
    return InstitutionSubmittedV1(
        institution_id=uuid.uuid4(),
        uscc="91440106MA59C8XK3R",
        name="测试托育中心",
        district_code="440106",
        street_code="440106001",
        submitted_at=datetime(2026, 11, 29, 8, 0, tzinfo=timezone(timedelta(hours=8))),
    )


def test_outbox_envelope_round_trips_through_the_wire_format() -> None:
    data = submitted()
    envelope = Outbox(source="/services/filing").envelope(data, subject=str(data.institution_id))
    wire = envelope.to_json().encode()
    raw = json.loads(wire)
    assert raw["specversion"] == "1.0"
    assert raw["type"] == "cn.gov.gz.childcare.filing.institution.submitted.v1"
    assert raw["datacontenttype"] == "application/json"
    assert raw["time"].endswith("Z")
    assert raw["subject"] == str(data.institution_id)
    decoded = decode(wire)
    assert decoded.data == data
    assert decoded.envelope == envelope


def test_catalogue_types_are_versioned_and_unique_per_model() -> None:
    assert CATALOGUE
    for event_type, model in CATALOGUE.items():
        assert event_type.startswith("cn.gov.gz.childcare.")
        assert event_type.rsplit(".", 1)[-1][1:].isdigit(), event_type
        assert model.event_type == event_type
        assert model.topic.startswith("childcare.")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "undecodable"),
        (b"\x80\x81", "undecodable"),
        (b"[1, 2", "undecodable"),
        (b'{"specversion": "1.0"}', "invalid_envelope"),
        (
            b'{"specversion": "0.3", "id": "1", "source": "/s", "type": "t", "time": "2026-01-01T00:00:00Z",'
            b' "subject": "s", "data": {}}',
            "invalid_envelope",
        ),
    ],
)
def test_undecodable_and_malformed_envelopes_are_poison(value: bytes | None, reason: str) -> None:
    with pytest.raises(PoisonEvent) as exc_info:
        decode(value)
    assert exc_info.value.reason == reason


def _raw(event_type: str, data: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/services/test",
            "type": event_type,
            "time": "2026-11-29T00:00:00Z",
            "subject": "s-1",
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


def test_unknown_type_and_invalid_payload_are_poison() -> None:
    with pytest.raises(PoisonEvent) as unknown:
        decode(_raw("cn.gov.gz.childcare.filing.institution.vanished.v1", {}))
    assert unknown.value.reason == "unknown_event_type"
    with pytest.raises(PoisonEvent) as invalid:
        decode(_raw(InstitutionSubmittedV1.event_type, {"institution_id": "nope"}))
    assert invalid.value.reason == "invalid_payload"
    assert "institution_id" in invalid.value.detail


def test_envelope_requires_timezone_and_valid_extension_names() -> None:
    base = json.loads(_raw(InstitutionSubmittedV1.event_type, {}))
    with pytest.raises(ValidationError):
        CloudEvent.model_validate({**base, "time": "2026-11-29T00:00:00"})
    with pytest.raises(ValidationError):
        CloudEvent.model_validate({**base, "Bad-Name": "x"})
    assert CloudEvent.model_validate({**base, "traceparent": "00-abc"}).model_extra == {"traceparent": "00-abc"}


@pytest.fixture
def versioned_test_event() -> Iterator[type[EventData]]:
    """A throw-away v2 event with a v1 ancestor, registered for one test only."""
    v1 = "cn.gov.gz.childcare.test.widget.counted.v1"
    v2 = "cn.gov.gz.childcare.test.widget.counted.v2"

    @event(v2, topic=FILING_EVENTS)
    class WidgetCountedV2(EventData):
        count: int
        unit: str

    @upcaster(v1, v2)
    def v1_to_v2(data: dict[str, object]) -> dict[str, object]:
        return {"count": data["n"], "unit": "piece"}

    yield WidgetCountedV2
    CATALOGUE.pop(v2)
    UPCASTERS.pop(v1)


def test_old_versions_are_upcast_before_validation(versioned_test_event: type[EventData]) -> None:
    decoded = decode(_raw("cn.gov.gz.childcare.test.widget.counted.v1", {"n": 3}))
    assert decoded.type == "cn.gov.gz.childcare.test.widget.counted.v2"
    assert decoded.data == versioned_test_event.model_validate({"count": 3, "unit": "piece"})
    assert decoded.envelope.data == {"count": 3, "unit": "piece"}


def test_event_types_must_follow_the_naming_rule() -> None:
    with pytest.raises(ValueError, match="event type"):
        event("com.example.thing.happened", topic=FILING_EVENTS)


def test_time_is_normalised_to_utc() -> None:
    data = submitted()
    at = datetime(2026, 11, 29, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    envelope = Outbox(source="/services/filing").envelope(data, subject="s", at=at)
    assert envelope.time == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
