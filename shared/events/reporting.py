"""Events of the reporting service, on ``childcare.ledger.changes`` (one partition, total order)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from shared.events.catalogue import EventData, event, upcaster
from shared.topics import LEDGER_CHANGES

ENTRY_SHARED_V1 = "cn.gov.gz.childcare.reporting.ledger.entry_shared.v1"
# Standard base64 with padding (RFC 4648 §4) of a 32-byte SHA-256, canonical (the last character
# before the padding leaves no stray bits): 44 characters, as in a C2SP checkpoint and Go's tlog.Hash.
BASE64_SHA256 = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"


@event("cn.gov.gz.childcare.reporting.ledger.entry_appended.v1", topic=LEDGER_CHANGES)
class LedgerEntryAppendedV1(EventData):
    """An entry was appended to the shared ledger (信息共享台账)."""

    index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    source_event_id: str
    source_event_type: str
    subject: str
    recorded_at: datetime


class LedgerEntrySharedV1(EventData):
    """Version 1 of ``LedgerEntrySharedV2``: the leaf hash in hex and the source event's fields named
    ``source_event_*``. No longer produced and no longer in the catalogue: records of this type still
    on the topic are read as v2 through ``entry_shared_v1_to_v2``. The model stays as the schema of
    those records (and lets tests write one)."""

    index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256(0x00 || leaf)")
    source_event_id: str
    source_event_source: str
    source_event_type: str
    subject: str | None = None
    event_time: datetime
    recorded_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


LedgerEntrySharedV1.event_type = ENTRY_SHARED_V1
LedgerEntrySharedV1.topic = LEDGER_CHANGES


@event("cn.gov.gz.childcare.reporting.ledger.entry_shared.v2", topic=LEDGER_CHANGES)
class LedgerEntrySharedV2(EventData):
    """An entry was appended to the shared ledger (信息共享台账); one record per entry, in index order.

    Carries only what every agency may see (the intersection of all data-sharing grants): the
    entry's position and leaf hash, the source event's identity and type, and ``data`` reduced to
    the fields every agency is granted. ``subject`` is null (and ``data`` empty) unless every agency
    is granted the source event's type. Field names and encodings are those of ``GET /v1/ledger``
    (docs/ledger.md): the leaf hash in standard base64, times in UTC. Replaces ``entry_shared.v1``
    (hex hash, ``source_event_*`` names), whose records are upcast to this type when read."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    index: int = Field(ge=0)
    leaf_hash: str = Field(
        pattern=BASE64_SHA256,
        description="standard base64 with padding (RFC 4648 §4) of SHA-256(0x00 || leaf), the RFC 6962 leaf hash; "
        "the same string as the entry's `leaf_hash` on /v1/ledger and the proof endpoints",
    )
    leaf_version: int | None = Field(
        default=None,
        ge=1,
        description="the entry's leaf version (docs/ledger.md), as /v1/ledger's `leaf_version`; "
        "null on a record upcast from entry_shared.v1, which did not carry it",
    )
    event_id: str
    event_source: str
    # Every EventData's ``event_type`` is its catalogue type (a ClassVar: the envelope's type), so the
    # source event's type is held under another attribute; on the wire it is ``event_type``.
    source_type: str = Field(alias="event_type")
    subject: str | None = None
    event_time: datetime = Field(description="the source event's time in UTC, as /v1/ledger's `event_time`")
    recorded_at: datetime = Field(description="when the entry was appended, UTC")
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_time", "recorded_at")
    @classmethod
    def _in_utc(cls, moment: datetime) -> datetime:
        # /v1/ledger serves these from the database, in UTC; the same instant in the same form here
        # (an event's own offset, e.g. +08:00, is not part of the leaf either).
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment


def _hex_to_base64(value: Any) -> Any:
    """A v1 hex hash as base64; anything else unchanged, for v2's validation to refuse."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        return value


@upcaster(ENTRY_SHARED_V1, LedgerEntrySharedV2.event_type)
def entry_shared_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """The same entry under v2's names, its leaf hash re-encoded (the same 32 bytes). A missing field
    stays missing, so the v2 model reports it (invalid_payload)."""
    renamed = {"source_event_id": "event_id", "source_event_source": "event_source", "source_event_type": "event_type"}
    lifted = {renamed.get(key, key): value for key, value in data.items()}
    if "leaf_hash" in lifted:
        lifted["leaf_hash"] = _hex_to_base64(lifted["leaf_hash"])
    return lifted
