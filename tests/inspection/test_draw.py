"""The draw as a pure function (no I/O): determinism, sensitivity, per-stratum counts, team rules,
even workload, and agreement with the standalone verifier's independent implementation."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.inspection import draw

ROOT = Path(__file__).resolve().parents[2]
DISTRICTS = ["440103", "440104", "440106"]
HEX = "0123456789abcdef"


def load_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_draw", ROOT / "tools" / "verify_draw.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_draw"] = module
    spec.loader.exec_module(module)
    return module


VERIFIER = load_verifier()

seeds = st.text(alphabet=HEX, min_size=64, max_size=64)
ratios = st.sampled_from(["0", "0.05", "0.1", "0.2", "0.3", "0.33", "0.5", "1"])


@st.composite
def scenarios(draw_: Any) -> tuple[list[draw.InstitutionEntry], list[draw.InspectorEntry], dict[str, Any]]:
    inspector_ids = [f"i{n:03d}" for n in range(draw_(st.integers(0, 9)))]
    inspectors = [
        {"id": i, "districts": draw_(st.lists(st.sampled_from(DISTRICTS), min_size=1, max_size=3, unique=True))}
        for i in inspector_ids
    ]
    institutions = []
    for n in range(draw_(st.integers(0, 30))):
        pool = st.sampled_from(inspector_ids) if inspector_ids else st.nothing()
        institutions.append(
            {
                "id": f"n{n:03d}",
                "district": draw_(st.sampled_from(DISTRICTS)),
                "grade": draw_(st.sampled_from(draw.STRATA)),
                "conflicts": draw_(st.lists(pool, max_size=2, unique=True)) if inspector_ids else [],
                "previous_team": draw_(st.lists(pool, max_size=2, unique=True)) if inspector_ids else [],
            }
        )
    parameters = {"ratios": {g: draw_(ratios) for g in draw.STRATA}, "team_size": draw_(st.integers(2, 4))}
    return draw.normalise_institutions(institutions), draw.normalise_inspectors(inspectors), parameters


def eligible(institution: draw.InstitutionEntry, inspectors: Sequence[draw.InspectorEntry]) -> set[str]:
    excluded = set(institution["conflicts"]) | set(institution["previous_team"])
    return {i["id"] for i in inspectors if institution["district"] in i["districts"] and i["id"] not in excluded}


@settings(max_examples=150, deadline=None)
@given(seeds, scenarios())
def test_the_draw_is_a_pure_function_that_the_independent_verifier_reproduces(seed: str, scenario: Any) -> None:
    institutions, inspectors, parameters = scenario
    first = draw.run_draw(seed, institutions, inspectors, parameters)
    assert draw.run_draw(seed, institutions, inspectors, parameters) == first
    assert VERIFIER.recompute_result(seed, institutions, inspectors, parameters) == first


@settings(max_examples=150, deadline=None)
@given(seeds, seeds, scenarios())
def test_another_seed_gives_another_result(seed: str, other: str, scenario: Any) -> None:
    institutions, inspectors, parameters = scenario
    result = draw.run_draw(seed, institutions, inspectors, parameters)
    if seed != other and result["selected"]:
        assert draw.run_draw(other, institutions, inspectors, parameters) != result


@settings(max_examples=150, deadline=None)
@given(seeds, scenarios(), st.data())
def test_any_change_of_the_lists_changes_their_hash_and_a_grade_change_changes_the_result(
    seed: str, scenario: Any, data: Any
) -> None:
    institutions, inspectors, parameters = scenario
    if not institutions:
        return
    n = data.draw(st.integers(0, len(institutions) - 1))
    changed = [dict(e) for e in institutions]
    old = changed[n]["grade"]
    changed[n]["grade"] = data.draw(st.sampled_from([g for g in draw.STRATA if g != old]))
    assert draw.list_hash(changed) != draw.list_hash(institutions)
    before = draw.run_draw(seed, institutions, inspectors, parameters)
    after = draw.run_draw(seed, draw.normalise_institutions(changed), inspectors, parameters)
    assert after != before  # the strata counts differ at least
    removed = institutions[:n] + institutions[n + 1 :]
    assert draw.list_hash(removed) != draw.list_hash(institutions)
    assert draw.run_draw(seed, removed, inspectors, parameters) != before


@settings(max_examples=200, deadline=None)
@given(seeds, scenarios())
def test_per_stratum_counts_are_the_rounded_up_ratios(seed: str, scenario: Any) -> None:
    institutions, inspectors, parameters = scenario
    result = draw.run_draw(seed, institutions, inspectors, parameters)
    for stratum in result["strata"]:
        grade = stratum["grade"]
        n = sum(1 for e in institutions if e["grade"] == grade)
        expected = math.ceil(n * Fraction(parameters["ratios"][grade]))
        assert stratum["candidates"] == n
        assert stratum["selected"] == expected
        assert sum(1 for s in result["selected"] if s["grade"] == grade) == expected


def test_rounding_is_exact_decimal_arithmetic() -> None:
    assert draw.sample_size(30, "0.1") == 3  # 30 × 0.1 in floating point is 3.0000000000000004
    assert draw.sample_size(31, "0.1") == 4
    assert draw.sample_size(1, "0.05") == 1
    assert draw.sample_size(0, "1") == 0
    assert draw.sample_size(7, "0") == 0


@settings(max_examples=200, deadline=None)
@given(seeds, scenarios())
def test_teams_have_two_or_more_eligible_members_and_nobody_is_dropped(seed: str, scenario: Any) -> None:
    institutions, inspectors, parameters = scenario
    result = draw.run_draw(seed, institutions, inspectors, parameters)
    by_id = {e["id"]: e for e in institutions}
    inspector_by_id = {i["id"]: i for i in inspectors}
    for team in result["teams"]:
        institution = by_id[team["institution_id"]]
        members = team["inspector_ids"]
        assert 2 <= len(members) <= parameters["team_size"]
        assert len(set(members)) == len(members)
        for m in members:
            assert institution["district"] in inspector_by_id[m]["districts"], "inspector outside the district"
            assert m not in institution["conflicts"], "conflicted inspector"
            assert m not in institution["previous_team"], "same team as last time (rotation)"
        assert team["short_team"] == (len(members) < parameters["team_size"])
    for item in result["unassignable"]:
        assert len(eligible(by_id[item["institution_id"]], inspectors)) < 2
        assert item["eligible_count"] < 2
    placed = [t["institution_id"] for t in result["teams"]] + [u["institution_id"] for u in result["unassignable"]]
    assert sorted(placed) == sorted(s["institution_id"] for s in result["selected"])


@settings(max_examples=200, deadline=None)
@given(seeds, scenarios())
def test_workload_is_within_one_task_among_inspectors_eligible_for_the_same_tasks(seed: str, scenario: Any) -> None:
    institutions, inspectors, parameters = scenario
    result = draw.run_draw(seed, institutions, inspectors, parameters)
    by_id = {e["id"]: e for e in institutions}
    assigned = [by_id[t["institution_id"]] for t in result["teams"]]
    load = result["workload"]
    assert sum(load.values()) == sum(len(t["inspector_ids"]) for t in result["teams"])
    profile = {i["id"]: tuple(i["id"] in eligible(inst, inspectors) for inst in assigned) for i in inspectors}
    for a in inspectors:
        for b in inspectors:
            if profile[a["id"]] == profile[b["id"]]:
                assert abs(load[a["id"]] - load[b["id"]]) <= 1, (a["id"], b["id"], load)


def test_everyone_eligible_everywhere_spreads_work_evenly() -> None:
    inspectors = draw.normalise_inspectors([{"id": f"i{n}", "districts": ["440106"]} for n in range(5)])
    institutions = draw.normalise_institutions(
        [{"id": f"n{n:02d}", "district": "440106", "grade": "D"} for n in range(12)]
    )
    result = draw.run_draw(
        "ab" * 32, institutions, inspectors, {"ratios": dict.fromkeys(draw.STRATA, "1"), "team_size": 2}
    )
    loads = sorted(result["workload"].values())
    assert sum(loads) == 24
    assert loads[-1] - loads[0] <= 1


def test_fewer_than_two_eligible_inspectors_is_reported_not_dropped() -> None:
    inspectors = draw.normalise_inspectors(
        [{"id": "i1", "districts": ["440106"]}, {"id": "i2", "districts": ["440104"]}]
    )
    institutions = draw.normalise_institutions([{"id": "n1", "district": "440106", "grade": "D"}])
    result = draw.run_draw(
        "cd" * 32, institutions, inspectors, {"ratios": dict.fromkeys(draw.STRATA, "1"), "team_size": 2}
    )
    assert result["teams"] == []
    assert result["unassignable"] == [
        {"institution_id": "n1", "eligible_count": 1, "reason": "fewer_than_two_eligible"}
    ]


# The test vector of docs/draw.md: if this changes, the published algorithm changed.
VECTOR_SERVER_SEED = "00" * 31 + "01"
VECTOR_WITNESS = "2026-03-01 福彩3D 第2026056期 开奖号码 718"


def vector() -> tuple[list[draw.InstitutionEntry], list[draw.InspectorEntry], dict[str, Any]]:
    institutions = draw.normalise_institutions(
        [
            {"id": "inst-1", "district": "440106", "grade": "A"},
            {"id": "inst-2", "district": "440106", "grade": "D"},
            {"id": "inst-3", "district": "440106", "grade": "ungraded", "conflicts": ["insp-1"]},
            {"id": "inst-4", "district": "440104", "grade": "B"},
        ]
    )
    inspectors = draw.normalise_inspectors(
        [
            {"id": "insp-1", "districts": ["440106"]},
            {"id": "insp-2", "districts": ["440106", "440104"]},
            {"id": "insp-3", "districts": ["440106"]},
        ]
    )
    parameters = {"ratios": {"A": "0.05", "B": "0.1", "C": "0.3", "D": "1", "ungraded": "0.2"}, "team_size": 2}
    return institutions, inspectors, parameters


def test_the_documented_test_vector() -> None:
    institutions, inspectors, parameters = vector()
    assert draw.commitment(VECTOR_SERVER_SEED) == "ec4916dd28fc4c10d78e287ca5d9cc51ee1ae73cbfde08c6b37324cbfaac8bc5"
    seed = draw.draw_seed(VECTOR_SERVER_SEED, VECTOR_WITNESS)
    result = draw.run_draw(seed, institutions, inspectors, parameters)
    doc = (ROOT / "docs" / "draw.md").read_text(encoding="utf-8")
    for value in (
        draw.list_hash(institutions),
        draw.list_hash(inspectors),
        seed,
        *[s["score"] for s in result["selected"]],
        *[",".join(t["inspector_ids"]) for t in result["teams"]],
    ):
        assert value in doc, f"docs/draw.md does not show {value}"
