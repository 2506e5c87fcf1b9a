"""The policy document and the pure scoring function (no database, no broker): every number below is
computed by hand from services/credit/policies/v1.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from services.credit.evaluation.scoring import EntryInput, evaluate
from services.credit.policy.documents import POLICY_DIR, PolicyError, load_policy_file, load_registry

REGISTRY = load_registry()
V1 = REGISTRY.policies["v1"]
V2 = REGISTRY.policies["v2"]
T0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def entry(rule: str, days_before: int, n: int = 0, repaired_at: datetime | None = None) -> EntryInput:
    return EntryInput(
        entry_id=f"{rule}-{days_before}-{n}",
        rule_id=rule,
        effective_from=T0 - timedelta(days=days_before),
        source_event_id=f"evt-{rule}-{days_before}-{n}",
        source_event_type="cn.gov.gz.childcare.test.v1",
        repaired_at=repaired_at,
    )


def test_every_version_is_loaded_and_v1_defaults_are_the_documented_ones() -> None:
    assert REGISTRY.versions() == ["v1", "v2"]
    assert [(g.grade, g.min_score) for g in V1.grades] == [("A", 90), ("B", 75), ("C", 60)]
    assert V1.lowest_grade == "D"
    assert V1.base_score == 100
    assert [(g.grade, g.min_score) for g in V2.grades] == [("A", 97), ("B", 85), ("C", 70)]
    for policy in (V1, V2):
        assert not policy.rules["violation.child_abuse"].repairable
        assert not policy.rules["person.child_abuse"].repairable
        assert policy.rules["person.child_abuse"].counts_for_days is None  # a life-long ban
        for grade in ("A", "B", "C", "D"):
            assert policy.measures[grade], grade
            assert all(m.legal_basis for m in policy.measures[grade])


def _write(tmp_path: Path, mutate: object) -> Path:
    document = yaml.safe_load((POLICY_DIR / "v1.yaml").read_text(encoding="utf-8"))
    assert callable(mutate)
    mutate(document)
    path = tmp_path / "v1.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["rules"]["violation.child_abuse"].update(repairable=True), "never repairable"),
        (lambda d: d["rules"].pop("violation.serious"), "rules missing"),
        (lambda d: d["grades"].reverse(), "decreasing"),
        (lambda d: d["measures"].pop("D"), "measures missing"),
        (lambda d: d["rules"]["violation.minor"].update(points="many"), "points"),
        (lambda d: d["rules"]["violation.minor"].update(surprise=1), "surprise"),
        (lambda d: d.update(version="v7"), "does not match"),
    ],
)
def test_an_invalid_policy_is_refused_at_load(tmp_path: Path, mutate: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy_file(_write(tmp_path, mutate))


def test_hand_computed_score_with_a_cap_and_explained_lines() -> None:
    entries = [
        entry("violation.general", 10),  # -5
        entry("violation.serious", 5),  # -15
        entry("inspection.clean", 40, 1),  # +2
        entry("inspection.clean", 30, 2),  # +2
        entry("inspection.clean", 20, 3),  # +2 (reaches the cap of 6)
        entry("inspection.clean", 15, 4),  # capped: 0
        entry("annual_report.on_time", 50),  # +1
    ]
    result = evaluate(entries, V1, T0)
    assert result.score == 100 - 5 - 15 + 2 + 2 + 2 + 0 + 1 == 87
    assert result.grade == "B"
    assert sum(line.points for line in result.lines) == result.score
    by_id = {line.entry_id: line for line in result.lines}
    assert by_id["inspection.clean-15-4"].status == "capped"
    assert by_id["inspection.clean-15-4"].points == 0
    assert by_id["violation.serious-5-0"].counts_until == T0 - timedelta(days=5) + timedelta(days=1095)
    assert by_id["violation.serious-5-0"].legal_basis == V1.rules["violation.serious"].legal_basis
    assert result.lines[0].status == "base"
    assert result.lines[0].points == 100
    # Under v2 the same entries grade lower (B needs 85): C? 87 ≥ 85 -> B; and one more -5 makes it C.
    assert evaluate(entries, V2, T0).grade == "B"
    assert evaluate([*entries, entry("violation.general", 1)], V2, T0).grade == "C"


def test_entries_expire_and_repairs_stop_counting() -> None:
    general, serious = entry("violation.general", 0), entry("violation.serious", 0)
    assert evaluate([general, serious], V1, T0).score == 80  # B
    # one day before the general violation's 365 days end, it still counts; on the day it does not
    assert evaluate([general, serious], V1, T0 + timedelta(days=364)).score == 80
    later = evaluate([general, serious], V1, T0 + timedelta(days=365))
    assert later.score == 85
    assert later.grade == "B"
    assert {line.status for line in later.lines} == {"base", "expired", "counting"}
    assert evaluate([general, serious], V1, T0 + timedelta(days=1095)).score == 100
    repaired = entry("violation.serious", 0, repaired_at=T0 + timedelta(days=400))
    assert evaluate([general, repaired], V1, T0 + timedelta(days=399)).score == 85  # general expired at 365
    after = evaluate([general, repaired], V1, T0 + timedelta(days=400))
    assert after.score == 100
    assert after.grade == "A"
    assert [line.status for line in after.lines] == ["base", "expired", "repaired"]
    # an entry dated in the future does not count yet
    assert evaluate([entry("violation.general", -3)], V1, T0).score == 100


def test_child_abuse_forces_the_lowest_grade_and_lists_whatever_the_score() -> None:
    lenient = V1.model_copy(
        update={
            "rules": {
                **V1.rules,
                "violation.child_abuse": V1.rules["violation.child_abuse"].model_copy(update={"points": -1}),
            }
        }
    )
    result = evaluate([entry("violation.child_abuse", 1), entry("inspection.clean", 2)], lenient, T0)
    assert result.score == 101
    assert result.grade == "D"
    assert result.forced_lowest_grade
    listed = result.lists["serious_dishonesty"]
    assert listed.until == T0 - timedelta(days=1) + timedelta(days=1095)
    person = evaluate([entry("person.child_abuse", 1)], V1, T0 + timedelta(days=10000))
    assert person.grade == "D"
    assert person.lists["industry_ban"].until is None


def test_score_has_a_floor_and_the_lines_still_sum_to_it() -> None:
    result = evaluate([entry("violation.critical", i, i) for i in range(5)], V1, T0)
    assert result.score == 0
    assert result.grade == "D"
    assert result.lines[-1].status == "floor"
    assert result.lines[-1].points == 50
    assert sum(line.points for line in result.lines) == 0


def test_a_rule_missing_from_the_evaluating_policy_scores_nothing_but_is_shown() -> None:
    result = evaluate([entry("violation.retired_rule", 1)], V1, T0)
    assert result.score == 100
    assert result.lines[1].status == "unknown_rule"
    assert result.lines[1].points == 0
