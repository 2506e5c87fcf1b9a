"""Pure rules, no I/O: scoring (a veto fails whatever the points), scheme validation, reassessment
dates, the token bucket, the catalogue's basis tags and its version pinning."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import yaml

from services.inspection import reference
from services.inspection.complaints.ratelimit import Limit, take
from services.inspection.quality.scheme import SCHEME_DIR, Scheme, schemes
from services.inspection.quality.scoring import Answer, AnswersInvalid, add_months, reassess_by, score

SCHEME = schemes()["wst821-v1"].scheme


def answers(points: dict[str, float] | None = None, unmet: set[str] | None = None) -> list[Answer]:
    points, unmet = points or {}, unmet or set()
    return [
        Answer(code, points.get(code, item.points), (code not in unmet) if item.veto else None)
        for code, (_, item) in SCHEME.items().items()
    ]


def test_the_shipped_scheme_has_wst821_structure() -> None:
    assert [(d.title_zh, d.points) for d in SCHEME.dimensions] == [
        ("办托条件", 100),
        ("托育队伍", 140),
        ("保育照护", 200),
        ("卫生保健", 210),
        ("养育支持", 80),
        ("安全保障", 200),
        ("机构管理", 70),
    ]
    assert SCHEME.max_score == 1000
    assert not SCHEME.grades_confirmed


@pytest.mark.parametrize("vetoed", sorted(c for c, (_, i) in SCHEME.items().items() if i.veto))
def test_any_unmet_veto_item_fails_the_assessment_even_with_full_points(vetoed: str) -> None:
    result = score(SCHEME, answers(unmet={vetoed}))
    assert (result.score, result.grade, result.veto_failed_items) == (1000, "D", [vetoed])
    assert result.report["grade_by_points"] == "A"


@pytest.mark.parametrize(
    ("lost", "grade"),
    [(0, "A"), (100, "A"), (101, "B"), (250, "B"), (251, "C"), (400, "C"), (401, "D")],
)
def test_grades_follow_the_configured_cut_offs(lost: float, grade: str) -> None:
    # take the points off the 200-point D3 items first, then D4's 60-point ones
    points: dict[str, float] = {}
    left = lost
    for code in ("D3.1", "D3.2", "D3.3", "D3.4", "D4.2", "D4.3", "D4.4", "D2.4"):
        item = SCHEME.items()[code][1]
        cut = min(item.points, left)
        points[code] = item.points - cut
        left -= cut
    result = score(SCHEME, answers(points))
    assert (result.score, result.grade, result.veto_failed) == (1000 - lost, grade, False)
    assert sum(result.dimension_scores.values()) == result.score


def test_answers_are_checked_all_at_once() -> None:
    bad = answers()[1:] + [Answer("4.1.4", 25, None), Answer("D1.2", 1, True)]
    with pytest.raises(AnswersInvalid) as caught:
        score(SCHEME, bad)
    codes = {(p.field, p.code) for p in caught.value.problems}
    assert ("items.26.score", "score_out_of_range") in codes
    assert ("items.26.veto_met", "veto_answer_required") in codes
    assert ("items.27.code", "duplicate_item") in codes
    assert ("items.27.veto_met", "not_a_veto_item") in codes


def test_reassessment_dates() -> None:
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert reassess_by(SCHEME, "A", date(2026, 1, 15)) == date(2029, 1, 15)
    assert reassess_by(SCHEME, "D", date(2026, 1, 15)) == date(2026, 7, 15)


def _doc() -> dict[str, Any]:
    doc = yaml.safe_load((SCHEME_DIR / "wst821-v1.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["dimensions"][0].update(points=110), "WS/T 821"),
        (lambda d: d["dimensions"][1]["items"][0].update(points=25), "add up"),
        (lambda d: d["dimensions"][1]["items"][0].update(code="4.1.4"), "twice"),
        (lambda d: d["grades"].reverse(), "best first"),
        (lambda d: d["reassess_months"].pop("D"), "every grade"),
        (lambda d: d.update(surprise=1), "surprise"),
    ],
)
def test_a_broken_scheme_is_refused(mutate: Any, message: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(ValueError, match=message):
        Scheme.model_validate(doc)


def test_token_bucket() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    limit = Limit(burst=2, per_hour=60)  # one a minute
    d1 = take(2, t0, t0, limit)
    d2 = take(d1.tokens, t0, t0, limit)
    d3 = take(d2.tokens, t0, t0, limit)
    assert (d1.allowed, d2.allowed, d3.allowed) == (True, True, False)
    assert d3.retry_after_s == 60
    assert take(d2.tokens, t0, t0 + timedelta(seconds=30), limit).retry_after_s == 30
    assert take(d2.tokens, t0, t0 + timedelta(minutes=1), limit).allowed
    assert take(0, t0, t0 + timedelta(days=9), limit).tokens == 1  # never above the burst (2 - 1)


def test_basis_tags() -> None:
    flags = reference.basis_flags("《管理规范》第25条〔二手〕；WS/T 821—2023〔推荐性〕〔未核：58号文中对应条款未确认〕")
    assert not flags.verified
    assert flags.recommended_standard
    assert flags.notes_zh[0].startswith("〔二手〕")
    assert "58号文中对应条款未确认" in flags.notes_zh[1]
    assert reference.basis_flags("《人口与计划生育法》（2021修正）第28条〔2019〕").verified  # a document number


def test_changed_reference_data_needs_a_new_version(monkeypatch: pytest.MonkeyPatch) -> None:
    assert reference.catalogue_version() == "2024-v1"
    monkeypatch.setattr(reference, "CATALOGUE_VERSIONS", {"2024-v1": ("0" * 64, "0" * 64)})
    reference.catalogue_version.cache_clear()
    try:
        with pytest.raises(reference.CatalogueError, match="new version"):
            reference.catalogue_version()
    finally:
        monkeypatch.undo()
        reference.catalogue_version.cache_clear()
    assert reference.catalogue_version() == "2024-v1"
