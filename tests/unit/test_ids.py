"""Event ids are version-7 UUIDs: valid RFC 9562 layout, time first (so index inserts stay local),
unique within one millisecond."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from shared.events.filing import AnnualReportOverdueV1
from shared.ids import uuid7
from shared.outbox import Outbox


def test_layout_carries_version_variant_and_the_millisecond() -> None:
    ms = 1_780_000_000_123
    value = uuid7(ms)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == ms


def test_later_milliseconds_sort_after_earlier_ones_and_ids_are_unique() -> None:
    ids = [uuid7(1_780_000_000_000 + i // 100) for i in range(10_000)]  # 100 ids per millisecond
    assert len(set(ids)) == len(ids)
    for earlier, later in zip(ids[::100], ids[100::100], strict=False):
        assert str(earlier) < str(later)  # also as text, the form stored in the indexes


@pytest.mark.parametrize("ms", [-1, 1 << 48])
def test_times_outside_48_bits_are_refused(ms: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        uuid7(ms)


def test_published_events_get_time_ordered_ids() -> None:
    outbox = Outbox(source="/services/filing")
    data = AnnualReportOverdueV1(
        institution_id=uuid.UUID(int=1), year=2025, due_date=date(2026, 3, 31), district_code="440106"
    )
    envelope = outbox.envelope(data, subject=str(uuid.UUID(int=1)))
    assert uuid.UUID(envelope.id).version == 7
