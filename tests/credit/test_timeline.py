"""The pure grade timeline (no database, no broker): history and list stays are dated by the facts'
own times, so they do not depend on arrival order or on when the evaluation ran. Numbers by hand from
services/credit/policies/v1.yaml and v2.yaml."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from services.credit.evaluation.scoring import EntryInput
from services.credit.evaluation.timeline import build
from services.credit.policy.documents import load_registry

REGISTRY = load_registry()
V1 = REGISTRY.policies["v1"]
V2 = REGISTRY.policies["v2"]
T0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def entry(rule: str, day: int, repaired_day: int | None = None) -> EntryInput:
    return EntryInput(
        entry_id=f"{rule}@{day}",
        rule_id=rule,
        effective_from=T0 + timedelta(days=day),
        source_event_id=f"evt-{rule}-{day}",
        source_event_type="cn.gov.gz.childcare.test.v1",
        detail_zh=f"{rule} on day {day}",
        repaired_at=None if repaired_day is None else T0 + timedelta(days=repaired_day),
    )


Row = tuple[int, str, str | None, str, int]


def rows(entries: list[EntryInput], now_day: int, activations: tuple[tuple[int, str], ...] = ()) -> list[Row]:
    line = build(
        entries,
        V1,
        [(T0 + timedelta(days=d), REGISTRY.policies[v]) for d, v in activations],
        {e.entry_id: "已整改" for e in entries},
        T0 + timedelta(days=now_day),
    )
    assert line is not None
    return [((h.graded_at - T0).days, h.policy_version, h.previous_grade, h.grade, h.score) for h in line.history]


def test_history_is_dated_by_the_facts_and_independent_of_arrival_order() -> None:
    entries = [entry("inspection.clean", 0), entry("violation.serious", 10), entry("violation.unrectified", 20)]
    # 102 A (the first grade, with the first entry) → 87 B → 77 (still B: no row)
    expected: list[Row] = [(0, "v1", None, "A", 102), (10, "v1", "A", "B", 87)]
    for order in itertools.permutations(entries):
        assert rows(list(order), now_day=30) == expected
    # The clean inspection's period ends on day 365, the unrectified one on day 385: 75 then 85.
    assert rows(entries, now_day=400) == expected  # B all along (75 and 85 are both B)


def test_expiry_repair_and_activation_rows_are_dated_when_they_happened() -> None:
    entries = [entry("violation.general", 0), entry("violation.serious", 1, repaired_day=380)]
    # 95 A (day 0) → 80 B (day 1) → general expires day 365: 85 B → repaired day 380: 100 A
    # → v2 on day 390: 100 A (a row for the new version) → evaluated any later: the same rows.
    expected: list[Row] = [
        (0, "v1", None, "A", 95),
        (1, "v1", "A", "B", 80),
        (380, "v1", "B", "A", 100),
        (390, "v2", "A", "A", 100),
    ]
    assert rows(entries, now_day=390, activations=((390, "v2"),)) == expected
    assert rows(entries, now_day=900, activations=((390, "v2"),)) == expected
    line = build(
        entries, V1, [(T0 + timedelta(days=390), V2)], {"violation.serious@1": "已整改"}, T0 + timedelta(days=400)
    )
    assert line is not None
    assert [h.reason for h in line.history][2:] == ["信用修复：已整改", "信用评价规则变更：v1→v2"]
    assert line.graded_at == T0 + timedelta(days=380)  # the version-only row does not move graded_at
    # Before the activation the same facts are graded under v1 only.
    assert rows(entries, now_day=389, activations=((390, "v2"),)) == expected[:3]


def test_list_stays_open_and_close_at_the_facts_times() -> None:
    abuse = entry("violation.child_abuse", 5)
    line = build([entry("inspection.clean", 0), abuse], V1, [], {}, T0 + timedelta(days=2000))
    assert line is not None
    [stay] = line.stays
    assert stay.list_name == "serious_dishonesty"
    assert stay.entered_at == abuse.effective_from
    assert stay.left_at == abuse.effective_from + timedelta(days=1095)  # the period's end, not "now"
    assert stay.cause_entry_ids == (abuse.entry_id,)
    assert [(h.grade, h.score) for h in line.history] == [("A", 102), ("D", 42), ("A", 100)]
    assert build([entry("inspection.clean", 10)], V1, [], {}, T0) is None, "no effective entry: not graded"
