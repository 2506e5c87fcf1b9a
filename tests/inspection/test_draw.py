"""The draw as a pure function (no I/O), in both published versions (v2 for new plans, v1 for plans
created before it): determinism, sensitivity, per-stratum counts, team rules, even workload, the
documented test vectors, and agreement with the standalone verifier's independent implementation."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
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
ALGORITHMS = pytest.mark.parametrize("algorithm", [draw.ALGORITHM_V1, draw.ALGORITHM_V2])


@st.composite
def scenarios(draw_: Any) -> tuple[list[draw.InstitutionEntry], list[draw.InspectorEntry], dict[str, Any]]:
    inspector_ids = [f"i{n:03d}" for n in range(draw_(st.integers(0, 14)))]
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
                "conflicts": draw_(st.lists(pool, max_size=3, unique=True)) if inspector_ids else [],
                "previous_team": draw_(st.lists(pool, max_size=3, unique=True)) if inspector_ids else [],
            }
        )
    parameters = {"ratios": {g: draw_(ratios) for g in draw.STRATA}, "team_size": draw_(st.integers(2, 4))}
    return draw.normalise_institutions(institutions), draw.normalise_inspectors(inspectors), parameters


def eligible(institution: draw.InstitutionEntry, inspectors: Sequence[draw.InspectorEntry]) -> set[str]:
    excluded = set(institution["conflicts"]) | set(institution["previous_team"])
    return {i["id"] for i in inspectors if institution["district"] in i["districts"] and i["id"] not in excluded}


@ALGORITHMS
@settings(max_examples=150, deadline=None)
@given(seeds, scenarios())
def test_the_draw_is_a_pure_function_that_the_independent_verifier_reproduces(
    algorithm: str, seed: str, scenario: Any
) -> None:
    institutions, inspectors, parameters = scenario
    first = draw.run_draw(seed, institutions, inspectors, parameters, algorithm)
    assert draw.run_draw(seed, institutions, inspectors, parameters, algorithm) == first
    assert VERIFIER.recompute_result(seed, institutions, inspectors, parameters, algorithm) == first


@ALGORITHMS
@settings(max_examples=150, deadline=None)
@given(seeds, seeds, scenarios())
def test_another_seed_gives_another_result(algorithm: str, seed: str, other: str, scenario: Any) -> None:
    institutions, inspectors, parameters = scenario
    result = draw.run_draw(seed, institutions, inspectors, parameters, algorithm)
    if seed != other and result["selected"]:
        assert draw.run_draw(other, institutions, inspectors, parameters, algorithm) != result


@ALGORITHMS
@settings(max_examples=150, deadline=None)
@given(seeds, scenarios(), st.data())
def test_any_change_of_the_lists_changes_their_hash_and_a_grade_change_changes_the_result(
    algorithm: str, seed: str, scenario: Any, data: Any
) -> None:
    institutions, inspectors, parameters = scenario
    if not institutions:
        return
    n = data.draw(st.integers(0, len(institutions) - 1))
    changed = [dict(e) for e in institutions]
    old = changed[n]["grade"]
    changed[n]["grade"] = data.draw(st.sampled_from([g for g in draw.STRATA if g != old]))
    assert draw.list_hash(changed) != draw.list_hash(institutions)
    before = draw.run_draw(seed, institutions, inspectors, parameters, algorithm)
    after = draw.run_draw(seed, draw.normalise_institutions(changed), inspectors, parameters, algorithm)
    assert after != before  # the strata counts differ at least
    removed = institutions[:n] + institutions[n + 1 :]
    assert draw.list_hash(removed) != draw.list_hash(institutions)
    assert draw.run_draw(seed, removed, inspectors, parameters, algorithm) != before


@ALGORITHMS
@settings(max_examples=200, deadline=None)
@given(seeds, scenarios())
def test_per_stratum_counts_are_the_rounded_up_ratios(algorithm: str, seed: str, scenario: Any) -> None:
    institutions, inspectors, parameters = scenario
    result = draw.run_draw(seed, institutions, inspectors, parameters, algorithm)
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


@ALGORITHMS
@settings(max_examples=200, deadline=None)
@given(seeds, scenarios())
def test_teams_have_two_or_more_eligible_members_and_nobody_is_dropped(
    algorithm: str, seed: str, scenario: Any
) -> None:
    institutions, inspectors, parameters = scenario
    result = draw.run_draw(seed, institutions, inspectors, parameters, algorithm)
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


@ALGORITHMS
@settings(max_examples=200, deadline=None)
@given(seeds, scenarios())
def test_workload_is_within_one_task_among_inspectors_eligible_for_the_same_tasks(
    algorithm: str, seed: str, scenario: Any
) -> None:
    institutions, inspectors, parameters = scenario
    result = draw.run_draw(seed, institutions, inspectors, parameters, algorithm)
    by_id = {e["id"]: e for e in institutions}
    assigned = [by_id[t["institution_id"]] for t in result["teams"]]
    load = result["workload"]
    assert sum(load.values()) == sum(len(t["inspector_ids"]) for t in result["teams"])
    profile = {i["id"]: tuple(i["id"] in eligible(inst, inspectors) for inst in assigned) for i in inspectors}
    for a in inspectors:
        for b in inspectors:
            if profile[a["id"]] == profile[b["id"]]:
                assert abs(load[a["id"]] - load[b["id"]]) <= 1, (a["id"], b["id"], load)


@ALGORITHMS
def test_everyone_eligible_everywhere_spreads_work_evenly(algorithm: str) -> None:
    inspectors = draw.normalise_inspectors([{"id": f"i{n}", "districts": ["440106"]} for n in range(5)])
    institutions = draw.normalise_institutions(
        [{"id": f"n{n:02d}", "district": "440106", "grade": "D"} for n in range(12)]
    )
    result = draw.run_draw(
        "ab" * 32, institutions, inspectors, {"ratios": dict.fromkeys(draw.STRATA, "1"), "team_size": 2}, algorithm
    )
    loads = sorted(result["workload"].values())
    assert sum(loads) == 24
    assert loads[-1] - loads[0] <= 1


@ALGORITHMS
def test_fewer_than_two_eligible_inspectors_is_reported_not_dropped(algorithm: str) -> None:
    inspectors = draw.normalise_inspectors(
        [{"id": "i1", "districts": ["440106"]}, {"id": "i2", "districts": ["440104"]}]
    )
    institutions = draw.normalise_institutions([{"id": "n1", "district": "440106", "grade": "D"}])
    result = draw.run_draw(
        "cd" * 32, institutions, inspectors, {"ratios": dict.fromkeys(draw.STRATA, "1"), "team_size": 2}, algorithm
    )
    assert result["teams"] == []
    assert result["unassignable"] == [
        {"institution_id": "n1", "eligible_count": 1, "reason": "fewer_than_two_eligible"}
    ]


# --- v2 specifically ---------------------------------------------------------------------------------

ALL = {"ratios": dict.fromkeys(draw.STRATA, "1"), "team_size": 2}


def test_new_plans_use_v3_which_assigns_teams_as_v2_and_unknown_algorithms_are_refused() -> None:
    assert draw.ALGORITHM == draw.ALGORITHM_V3 == "gz-childcare-draw/v3"
    institutions = draw.normalise_institutions([{"id": "n1", "district": "440106", "grade": "D"}])
    inspectors = draw.normalise_inspectors([{"id": f"i{n}", "districts": ["440106"]} for n in range(3)])
    v3 = draw.run_draw("ab" * 32, institutions, inspectors, ALL)
    assert v3["algorithm"] == draw.ALGORITHM_V3
    v2 = draw.run_draw("ab" * 32, institutions, inspectors, ALL, draw.ALGORITHM_V2)
    assert {**v3, "algorithm": draw.ALGORITHM_V2} == v2
    assert VERIFIER.recompute_result("ab" * 32, institutions, inspectors, ALL, draw.ALGORITHM_V3) == v3
    with pytest.raises(ValueError, match="unknown draw algorithm"):
        draw.run_draw("ab" * 32, institutions, inspectors, ALL, "gz-childcare-draw/v4")
    with pytest.raises(ValueError, match="unsupported algorithm"):
        VERIFIER.recompute_result("ab" * 32, institutions, inspectors, ALL, "gz-childcare-draw/v4")


@st.composite
def districts_of_peers(draw_: Any) -> tuple[list[draw.InstitutionEntry], list[draw.InspectorEntry], int]:
    """Each inspector covers exactly one district; no conflicts, no previous teams: everyone of a
    district is eligible for every institution of that district."""
    inspectors = [
        {"id": f"i{n:03d}", "districts": [draw_(st.sampled_from(DISTRICTS))]} for n in range(draw_(st.integers(2, 20)))
    ]
    institutions = [
        {"id": f"n{n:03d}", "district": draw_(st.sampled_from(DISTRICTS)), "grade": draw_(st.sampled_from(draw.STRATA))}
        for n in range(draw_(st.integers(0, 60)))
    ]
    return draw.normalise_institutions(institutions), draw.normalise_inspectors(inspectors), draw_(st.integers(2, 4))


@settings(max_examples=200, deadline=None)
@given(seeds, districts_of_peers())
def test_v2_keeps_every_district_within_one_task_when_all_are_eligible(seed: str, scenario: Any) -> None:
    institutions, inspectors, team_size = scenario
    result = draw.run_draw(seed, institutions, inspectors, {**ALL, "team_size": team_size}, draw.ALGORITHM_V2)
    for district in DISTRICTS:
        loads = [result["workload"][i["id"]] for i in inspectors if i["districts"] == [district]]
        if loads:
            assert max(loads) - min(loads) <= 1, (district, loads)
        covered = len(loads)
        for team in result["teams"]:
            if team["institution_id"] in {e["id"] for e in institutions if e["district"] == district}:
                assert len(team["inspector_ids"]) == min(team_size, covered)


def test_v2_respects_conflicts_rotation_and_district_coverage() -> None:
    inspectors = draw.normalise_inspectors(
        [
            {"id": "a", "districts": ["440106"]},
            {"id": "b", "districts": ["440106", "440104"]},
            {"id": "c", "districts": ["440106"]},
            {"id": "d", "districts": ["440106"]},
            {"id": "e", "districts": ["440104"]},
            {"id": "f", "districts": ["440103"]},
        ]
    )
    institutions = draw.normalise_institutions(
        [
            {"id": "conflicted", "district": "440106", "grade": "D", "conflicts": ["a", "c"]},
            {"id": "rotated", "district": "440106", "grade": "D", "previous_team": ["b", "d"]},
            {"id": "covered", "district": "440104", "grade": "D"},
        ]
    )
    for n in range(40):  # whatever the seed, only these teams are possible
        teams = {
            t["institution_id"]: set(t["inspector_ids"])
            for t in draw.run_draw(f"{n:064x}", institutions, inspectors, ALL, draw.ALGORITHM_V2)["teams"]
        }
        assert teams == {"conflicted": {"b", "d"}, "rotated": {"a", "c"}, "covered": {"b", "e"}}


def test_v2_is_uniform_among_equally_loaded_inspectors() -> None:
    """Over 3,000 fixed seeds, each of four equally loaded inspectors leads the team about a quarter
    of the time and each pair is drawn about a sixth of the time (a fixed computation: no flakiness;
    a biased rule, e.g. always the first in id order, fails)."""
    inspectors = draw.normalise_inspectors([{"id": f"i{n}", "districts": ["440106"]} for n in range(4)])
    institutions = draw.normalise_institutions([{"id": "n1", "district": "440106", "grade": "D"}])
    first: dict[str, int] = {}
    pairs: dict[frozenset[str], int] = {}
    for n in range(3000):
        seed = draw.sha256_hex(f"seed {n}".encode())
        team = draw.run_draw(seed, institutions, inspectors, ALL, draw.ALGORITHM_V2)["teams"][0]["inspector_ids"]
        first[team[0]] = first.get(team[0], 0) + 1
        pairs[frozenset(team)] = pairs.get(frozenset(team), 0) + 1
    assert len(first) == 4
    assert all(650 <= c <= 850 for c in first.values()), first  # 750 expected, σ ≈ 24
    assert len(pairs) == 6
    assert all(420 <= c <= 580 for c in pairs.values()), pairs  # 500 expected, σ ≈ 20


def test_v2_computes_one_hmac_per_team_member(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of v2: the team step costs team_size HMACs per institution, not one per eligible
    inspector (v1), however many inspectors cover the district."""
    inspectors = draw.normalise_inspectors([{"id": f"i{n:03d}", "districts": ["440106"]} for n in range(200)])
    institutions = draw.normalise_institutions(
        [{"id": f"n{n:03d}", "district": "440106", "grade": "D", "conflicts": [f"i{n:03d}"]} for n in range(50)]
    )
    messages: list[str] = []
    real = draw._scorer

    def counting(seed: str) -> Any:
        score = real(seed)

        def counted(message: str) -> str:
            messages.append(message)
            return score(message)

        return counted

    monkeypatch.setattr(draw, "_scorer", counting)
    v2 = draw.run_draw("ef" * 32, institutions, inspectors, {**ALL, "team_size": 3}, draw.ALGORITHM_V2)
    assert len(v2["teams"]) == 50
    assert sum(m.startswith("assign:") for m in messages) == 50 * 3
    messages.clear()
    draw.run_draw("ef" * 32, institutions, inspectors, {**ALL, "team_size": 3}, draw.ALGORITHM_V1)
    assert sum(m.startswith("assign:") for m in messages) == 50 * 199


# The test vectors of docs/draw.md: if one changes, a published algorithm changed.
VECTOR_SERVER_SEED = "00" * 31 + "01"
VECTOR_WITNESS = "2026-03-01 福彩3D 第2026056期 开奖号码 718"


def vector_v1() -> tuple[list[draw.InstitutionEntry], list[draw.InspectorEntry], dict[str, Any]]:
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


def vector_v2() -> tuple[list[draw.InstitutionEntry], list[draw.InspectorEntry], dict[str, Any]]:
    institutions = draw.normalise_institutions(
        [
            {"id": "inst-1", "district": "440106", "grade": "A"},
            {"id": "inst-2", "district": "440106", "grade": "D", "previous_team": ["insp-3", "insp-1"]},
            {"id": "inst-3", "district": "440106", "grade": "ungraded", "conflicts": ["insp-2"]},
            {"id": "inst-4", "district": "440104", "grade": "B"},
            {"id": "inst-5", "district": "440106", "grade": "C"},
            {"id": "inst-6", "district": "440103", "grade": "D", "conflicts": ["insp-9"]},
        ]
    )
    inspectors = draw.normalise_inspectors(
        [
            {"id": "insp-1", "districts": ["440106"]},
            {"id": "insp-2", "districts": ["440106", "440104"]},
            {"id": "insp-3", "districts": ["440106"]},
            {"id": "insp-4", "districts": ["440106"]},
            {"id": "insp-5", "districts": ["440104"]},
        ]
    )
    return institutions, inspectors, {"ratios": dict.fromkeys(draw.STRATA, "1"), "team_size": 2}


@pytest.mark.parametrize(("algorithm", "vector"), [(draw.ALGORITHM_V1, vector_v1), (draw.ALGORITHM_V2, vector_v2)])
def test_the_documented_test_vectors(algorithm: str, vector: Any) -> None:
    institutions, inspectors, parameters = vector()
    assert draw.commitment(VECTOR_SERVER_SEED) == "ec4916dd28fc4c10d78e287ca5d9cc51ee1ae73cbfde08c6b37324cbfaac8bc5"
    seed = draw.draw_seed(VECTOR_SERVER_SEED, VECTOR_WITNESS)
    result = draw.run_draw(seed, institutions, inspectors, parameters, algorithm)
    assert VERIFIER.recompute_result(seed, institutions, inspectors, parameters, algorithm) == result
    doc = (ROOT / "docs" / "draw.md").read_text(encoding="utf-8")
    section = doc.split(f"### 4.{1 if algorithm == draw.ALGORITHM_V2 else 2} `{algorithm}`")[1].split("\n### ")[0]
    shown = [
        draw.list_hash(institutions),
        draw.list_hash(inspectors),
        *[s["score"] for s in result["selected"]],
        *[",".join(t["inspector_ids"]) for t in result["teams"]],
        *[u["institution_id"] for u in result["unassignable"]],
    ]
    if algorithm == draw.ALGORITHM_V2:
        shown += [
            draw.score(seed, f"assign:{t['institution_id']}:{r}")
            for t in result["teams"]
            for r in range(len(t["inspector_ids"]))
        ]
    for value in shown:
        assert value in section, f"docs/draw.md §4 ({algorithm}) does not show {value}"
    assert seed in doc
    assert json.dumps(result["workload"], ensure_ascii=False) in section


V3_OBSERVERS = [
    ("11111111-1111-4111-8111-111111111111", "天河区纪委监委派驻纪检监察组 20260301", "aa" * 32),
    ("22222222-2222-4222-8222-222222222222", "公证处 718305", "bb" * 32),
]


def vector_pool() -> tuple[list[draw.InstitutionEntry], list[draw.InspectorEntry], dict[str, Any]]:
    """The pool of docs/draw.md's v3 test vectors: six institutions, five inspectors, every stratum
    at ratio 1, teams of two."""
    institutions = draw.normalise_institutions(
        [
            {"id": "inst-1", "district": "440106", "grade": "A"},
            {"id": "inst-2", "district": "440106", "grade": "D", "previous_team": ["insp-1", "insp-3"]},
            {"id": "inst-3", "district": "440106", "grade": "ungraded", "conflicts": ["insp-2"]},
            {"id": "inst-4", "district": "440104", "grade": "B"},
            {"id": "inst-5", "district": "440106", "grade": "C"},
            {"id": "inst-6", "district": "440103", "grade": "D", "conflicts": ["insp-9"]},
        ]
    )
    inspectors = draw.normalise_inspectors(
        [
            {"id": "insp-1", "districts": ["440106"]},
            {"id": "insp-2", "districts": ["440104", "440106"]},
            {"id": "insp-3", "districts": ["440106"]},
            {"id": "insp-4", "districts": ["440106"]},
            {"id": "insp-5", "districts": ["440104"]},
        ]
    )
    parameters: dict[str, Any] = {"ratios": dict.fromkeys(draw.STRATA, "1"), "team_size": 2}
    return institutions, inspectors, parameters


@pytest.mark.parametrize(
    ("withheld", "digest", "seed", "teams"),
    [
        (
            False,
            "1337b7ee9f88638f2965391932a9ac5f05b729418df1c370e365b84b74ecb7c9",
            "5ac37a45507b0143db35954a67822b03dad1eb141506603062ab84bc4a5ffc18",
            "inst-1:insp-3,insp-2 inst-4:insp-5,insp-2 inst-2:insp-4,insp-2 inst-5:insp-1,insp-3 inst-3:insp-1,insp-4",
        ),
        (
            True,
            "746fe1aae3dbaf30e270e965f0a8f375aeff33edbc9cfdf3d1ba8e4417585f11",
            "16b5f4b70812ae2801e5cd7e99dc0a3357c9f128c53889e396e05c436d062995",
            None,
        ),
    ],
)
def test_the_documented_v3_vectors(withheld: bool, digest: str, seed: str, teams: str | None) -> None:
    """docs/draw.md §4.3, by the service's functions and by tools/verify_draw.py on a whole record."""
    server_seed = "00" * 31 + "01"
    commitments = [draw.observer_commitment(v, s) for _, v, s in V3_OBSERVERS]
    assert commitments == [
        "87fe1ecec67092096a796ebae5a9ff8841e5c9c5f2654c6bd4cd03ec3ff4c248",
        "99c88f9cf843388298e2e11bcfbd31b996ed58c23698b17176c21e4d67163ebb",
    ]
    revealed = V3_OBSERVERS[:1] if withheld else V3_OBSERVERS
    assert draw.witness_digest([{"id": i, "value": v} for i, v, _ in revealed]) == digest
    assert draw.draw_seed_v3(server_seed, digest) == seed
    institutions, inspectors, parameters = vector_pool()
    result = draw.run_draw(seed, institutions, inspectors, parameters, draw.ALGORITHM_V3)
    if teams is not None:
        assert " ".join(f"{t['institution_id']}:{','.join(t['inspector_ids'])}" for t in result["teams"]) == teams
        assert result["workload"] == {"insp-1": 2, "insp-2": 3, "insp-3": 2, "insp-4": 2, "insp-5": 1}
    observers = [
        {
            "id": i,
            "organisation": "演示监督单位",
            "commitment": c,
            "registered_at": "2026-03-01T08:00:00Z",
            "status": "withheld" if withheld and n == 1 else "revealed",
            "value": None if withheld and n == 1 else v,
            "salt": None if withheld and n == 1 else s,
            "revealed_at": None if withheld and n == 1 else "2026-03-02T09:30:00Z",
        }
        for n, ((i, v, s), c) in enumerate(zip(V3_OBSERVERS, commitments, strict=True))
    ]
    record = {
        "algorithm": draw.ALGORITHM_V3,
        "parameters": parameters,
        "institutions": institutions,
        "institutions_hash": draw.list_hash(institutions),
        "inspectors": inspectors,
        "inspectors_hash": draw.list_hash(inspectors),
        "commitment": draw.commitment(server_seed),
        "committed_at": "2026-03-01T09:00:00Z",
        "server_seed": server_seed,
        "witness_value": None,
        "witness": {
            "reveal_not_before": "2026-03-02T09:00:00Z",
            "withheld_after": "2026-03-03T09:00:00Z",
            "observers": observers,
            "witness_digest": digest,
        },
        "draw_seed": seed,
        "result": result,
        "drawn_at": "2026-03-03T09:00:00Z" if withheld else "2026-03-02T10:00:00Z",
    }
    assert VERIFIER.verify(record) is None
    if withheld:  # the same record drawn before the grace period ended does not verify
        assert VERIFIER.verify({**record, "drawn_at": "2026-03-03T08:59:59Z"}) == "witness.observers[1].status"
