"""The verifiable random draw (双随机): a pure function of (seed, frozen lists, plan parameters).

No I/O, no clock, no randomness, standard library only: anyone holding the published record can
recompute the exact result (``tools/verify_draw.py`` is an independent re-implementation, and
``docs/draw.md`` the specification). Everything here works on the JSON shapes that are published,
so what is hashed, what is drawn and what is verified are literally the same data.

Frozen institution entry:  {"id", "district", "grade", "conflicts": [inspector ids], "previous_team": [...]}
Frozen inspector entry:    {"id", "districts": [district codes]}
Parameters:                {"ratios": {"A": "0.05", …, "ungraded": "0.20"}, "team_size": 2}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, TypedDict

ALGORITHM = "gz-childcare-draw/v1"
STRATA = ("A", "B", "C", "D", "ungraded")
MIN_TEAM = 2


class InstitutionEntry(TypedDict):
    id: str
    district: str
    grade: str
    conflicts: list[str]
    previous_team: list[str]


class InspectorEntry(TypedDict):
    id: str
    districts: list[str]


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant whitespace (what is hashed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise_institutions(entries: Sequence[Mapping[str, Any]]) -> list[InstitutionEntry]:
    """The canonical frozen list: sorted by id, id lists sorted and de-duplicated."""
    out: list[InstitutionEntry] = [
        {
            "id": str(e["id"]),
            "district": str(e["district"]),
            "grade": str(e["grade"]),
            "conflicts": sorted({str(i) for i in e.get("conflicts", [])}),
            "previous_team": sorted({str(i) for i in e.get("previous_team", [])}),
        }
        for e in entries
    ]
    return sorted(out, key=lambda e: e["id"])


def normalise_inspectors(entries: Sequence[Mapping[str, Any]]) -> list[InspectorEntry]:
    out: list[InspectorEntry] = [
        {"id": str(e["id"]), "districts": sorted({str(d) for d in e["districts"]})} for e in entries
    ]
    return sorted(out, key=lambda e: e["id"])


def list_hash(entries: Sequence[Mapping[str, Any]]) -> str:
    return sha256_hex(canonical_json(list(entries)))


def commitment(server_seed: str) -> str:
    """sha256 over the 32 raw bytes of the server seed (given as 64 lowercase hex digits)."""
    return sha256_hex(bytes.fromhex(server_seed))


def draw_seed(server_seed: str, witness_value: str) -> str:
    """sha256(server_seed bytes || UTF-8 bytes of the witness value)."""
    return sha256_hex(bytes.fromhex(server_seed) + witness_value.encode("utf-8"))


def score(seed: str, message: str) -> str:
    """HMAC-SHA256 keyed with the 32 draw-seed bytes, over the UTF-8 message; lowercase hex."""
    return hmac.new(bytes.fromhex(seed), message.encode("utf-8"), hashlib.sha256).hexdigest()


def sample_size(candidates: int, ratio: str) -> int:
    """ceil(candidates × ratio), in exact decimal arithmetic (0.1 × 30 is 3, never 4)."""
    return math.ceil(candidates * Fraction(ratio))


def run_draw(
    seed: str,
    institutions: Sequence[InstitutionEntry],
    inspectors: Sequence[InspectorEntry],
    parameters: Mapping[str, Any],
) -> dict[str, Any]:
    """Select institutions per credit-grade stratum, then assign each selected institution a team.

    Both steps rank by HMAC-SHA256 scores under the draw seed (ties, which need a hash collision,
    fall back to the id). Teams: eligible = covers the district, no declared conflict, not on the
    institution's previous team (rotation); least-loaded first, then score; fewer than two eligible
    inspectors makes the institution ``unassignable`` (reported, never silently dropped).
    """
    ratios: Mapping[str, str] = parameters["ratios"]
    team_size = int(parameters["team_size"])
    strata: list[dict[str, Any]] = []
    selected: list[dict[str, str]] = []
    for grade in STRATA:
        members = [e for e in institutions if e["grade"] == grade]
        ranked = sorted((score(seed, "select:" + e["id"]), e["id"]) for e in members)
        k = min(len(members), sample_size(len(members), ratios[grade]))
        strata.append({"grade": grade, "candidates": len(members), "ratio": ratios[grade], "selected": k})
        selected += [{"institution_id": i, "grade": grade, "score": s} for s, i in ranked[:k]]
    # One selection order across strata, so no stratum systematically picks its teams first.
    selected.sort(key=lambda s: (s["score"], s["institution_id"]))

    by_id = {e["id"]: e for e in institutions}
    workload = {i["id"]: 0 for i in inspectors}
    teams: list[dict[str, Any]] = []
    unassignable: list[dict[str, Any]] = []
    for pick in selected:
        institution = by_id[pick["institution_id"]]
        excluded = set(institution["conflicts"]) | set(institution["previous_team"])
        eligible = [
            i["id"] for i in inspectors if institution["district"] in i["districts"] and i["id"] not in excluded
        ]
        if len(eligible) < MIN_TEAM:
            unassignable.append(
                {
                    "institution_id": institution["id"],
                    "eligible_count": len(eligible),
                    "reason": "fewer_than_two_eligible",
                }
            )
            continue
        ranked_ids = sorted(
            eligible,
            key=lambda i: (workload[i], score(seed, "assign:" + institution["id"] + ":" + i), i),
        )
        team = ranked_ids[:team_size]
        for i in team:
            workload[i] += 1
        teams.append({"institution_id": institution["id"], "inspector_ids": team, "short_team": len(team) < team_size})
    return {
        "algorithm": ALGORITHM,
        "strata": strata,
        "selected": selected,
        "teams": teams,
        "unassignable": unassignable,
        "workload": workload,
    }
