"""The verifiable random draw (双随机): a pure function of (seed, frozen lists, plan parameters).

No I/O, no clock, no randomness, standard library only: anyone holding the published record can
recompute the exact result (``tools/verify_draw.py`` is an independent re-implementation, and
``docs/draw.md`` the specification). Everything here works on the JSON shapes that are published,
so what is hashed, what is drawn and what is verified are literally the same data.

Two versions of the algorithm exist; a plan keeps the one it was created with (``Plan.algorithm``):

* ``gz-childcare-draw/v1`` (plans created before v2): ranks every eligible inspector of every
  selected institution by an HMAC score — one HMAC per (institution, eligible inspector) pair.
* ``gz-childcare-draw/v2``: the same selection step and the same team rules, but each team
  member is one keyed choice among the least-loaded eligible inspectors — ``team_size`` HMACs per
  institution — over per-district buckets keyed by workload, so no pick scans the inspector list.
* ``gz-childcare-draw/v3`` (current): v2's selection and teams; only the draw seed differs — it
  combines the server seed with the values of independent observers (监督员), each committed before
  the plan's commit and revealed after its reveal time (``witness_digest``, ``draw_seed_v3``), and
  optionally the randomness of a public beacon round named at the commit (``services.inspection.beacon``).

Frozen institution entry:  {"id", "district", "grade", "conflicts": [inspector ids], "previous_team": [...]}
Frozen inspector entry:    {"id", "districts": [district codes]}  (ids unique)
Parameters:                {"ratios": {"A": "0.05", …, "ungraded": "0.20"}, "team_size": 2}
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import math
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from fractions import Fraction
from operator import itemgetter
from typing import Any, TypedDict

from shared.grades import GRADES

ALGORITHM_V1 = "gz-childcare-draw/v1"
ALGORITHM_V2 = "gz-childcare-draw/v2"
ALGORITHM_V3 = "gz-childcare-draw/v3"
ALGORITHMS = (ALGORITHM_V1, ALGORITHM_V2, ALGORITHM_V3)
ALGORITHM = ALGORITHM_V3  # what new plans are drawn with
# v3 = v2's selection and team assignment under a seed from the server seed and the observers' reveals
WITNESSED = (ALGORITHM_V3,)
STRATA = (*GRADES, "ungraded")
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


@contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while building a city's worth of small acyclic dicts and lists.

    With ~100,000 entries the collector's full passes over the whole heap, triggered by the sheer
    number of new containers, cost as much as the work itself; none of these objects can be part of
    a reference cycle, so nothing is lost by collecting later. The previous state is restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _text(value: Any) -> str:
    return value if type(value) is str else str(value)


def _id_list(values: Iterable[Any] | None) -> list[str]:
    """Sorted, de-duplicated strings; the common empty list costs nothing."""
    if not values:
        return []
    return sorted({_text(v) for v in values})


def normalise_institutions(entries: Sequence[Mapping[str, Any]]) -> list[InstitutionEntry]:
    """The canonical frozen list: sorted by id, id lists sorted and de-duplicated."""
    with _bulk():
        out: list[InstitutionEntry] = [
            {
                "id": _text(e["id"]),
                "district": _text(e["district"]),
                "grade": _text(e["grade"]),
                "conflicts": _id_list(e.get("conflicts")),
                "previous_team": _id_list(e.get("previous_team")),
            }
            for e in entries
        ]
        out.sort(key=itemgetter("id"))
    return out


def normalise_inspectors(entries: Sequence[Mapping[str, Any]]) -> list[InspectorEntry]:
    out: list[InspectorEntry] = [{"id": _text(e["id"]), "districts": _id_list(e["districts"])} for e in entries]
    out.sort(key=itemgetter("id"))
    return out


def list_hash(entries: Sequence[Mapping[str, Any]]) -> str:
    return sha256_hex(canonical_json(list(entries)))


def commitment(server_seed: str) -> str:
    """sha256 over the 32 raw bytes of the server seed (given as 64 lowercase hex digits)."""
    return sha256_hex(bytes.fromhex(server_seed))


def draw_seed(server_seed: str, witness_value: str) -> str:
    """sha256(server_seed bytes || UTF-8 bytes of the witness value)."""
    return sha256_hex(bytes.fromhex(server_seed) + witness_value.encode("utf-8"))


def observer_commitment(value: str, salt: str) -> str:
    """An observer's commitment: sha256(UTF-8 bytes of the value || the 32 salt bytes, given as 64 hex digits)."""
    return sha256_hex(value.encode("utf-8") + bytes.fromhex(salt))


def witness_digest(reveals: Iterable[Mapping[str, str]]) -> str:
    """v3: sha256 of the canonical JSON of the revealed witnesses ``[{"id", "value"}]`` sorted by id
    (withheld observers are not in it)."""
    entries = sorted(({"id": _text(r["id"]), "value": _text(r["value"])} for r in reveals), key=itemgetter("id"))
    return sha256_hex(canonical_json(entries))


def draw_seed_v3(server_seed: str, digest: str, beacon_randomness: str | None = None) -> str:
    """v3: sha256(the 32 server-seed bytes || the 32 bytes of the witness digest), and, for a plan that
    named a beacon round at its commit, || the round's 32 randomness bytes (docs/draw.md §1.2, §2)."""
    beacon = bytes.fromhex(beacon_randomness) if beacon_randomness is not None else b""
    return sha256_hex(bytes.fromhex(server_seed) + bytes.fromhex(digest) + beacon)


def score(seed: str, message: str) -> str:
    """HMAC-SHA256 keyed with the 32 draw-seed bytes, over the UTF-8 message; lowercase hex."""
    return hmac.new(bytes.fromhex(seed), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _scorer(seed: str) -> Callable[[str], str]:
    """``score`` with the key schedule done once: the same HMAC, copied per message."""
    keyed = hmac.new(bytes.fromhex(seed), digestmod=hashlib.sha256)

    def keyed_score(message: str) -> str:
        h = keyed.copy()
        h.update(message.encode("utf-8"))
        return h.hexdigest()

    return keyed_score


def sample_size(candidates: int, ratio: str) -> int:
    """ceil(candidates × ratio), in exact decimal arithmetic (0.1 × 30 is 3, never 4)."""
    return math.ceil(candidates * Fraction(ratio))


def run_draw(
    seed: str,
    institutions: Sequence[InstitutionEntry],
    inspectors: Sequence[InspectorEntry],
    parameters: Mapping[str, Any],
    algorithm: str = ALGORITHM,
) -> dict[str, Any]:
    """Select institutions per credit-grade stratum, then assign each selected institution a team.

    Selection (both versions) ranks each stratum by HMAC-SHA256 scores under the draw seed (ties,
    which need a hash collision, fall back to the id). Teams: eligible = covers the district, no
    declared conflict, not on the institution's previous team (rotation); least-loaded first, ties
    broken at random under the seed (v1: by a score per inspector; v2: by one keyed choice per team
    member); fewer than two eligible inspectors makes the institution ``unassignable`` (reported,
    never silently dropped).
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown draw algorithm {algorithm!r}")
    keyed_score = _scorer(seed)
    assign = _assign_v1 if algorithm == ALGORITHM_V1 else _assign_v2
    with _bulk():
        strata, selected = _select(keyed_score, institutions, parameters["ratios"])
        by_id = {e["id"]: e for e in institutions}
        teams, unassignable, workload = assign(keyed_score, selected, by_id, inspectors, int(parameters["team_size"]))
    return {
        "algorithm": algorithm,
        "strata": strata,
        "selected": selected,
        "teams": teams,
        "unassignable": unassignable,
        "workload": workload,
    }


def _select(
    keyed_score: Callable[[str], str], institutions: Sequence[InstitutionEntry], ratios: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    members: dict[str, list[str]] = {grade: [] for grade in STRATA}
    for e in institutions:
        stratum = members.get(e["grade"])
        if stratum is not None:  # a grade outside the strata is in no stratum
            stratum.append(e["id"])
    strata: list[dict[str, Any]] = []
    selected: list[dict[str, str]] = []
    for grade in STRATA:
        ids = members[grade]
        ranked = sorted([(keyed_score("select:" + i), i) for i in ids])
        k = min(len(ids), sample_size(len(ids), ratios[grade]))
        strata.append({"grade": grade, "candidates": len(ids), "ratio": ratios[grade], "selected": k})
        selected += [{"institution_id": i, "grade": grade, "score": s} for s, i in ranked[:k]]
    # One selection order across strata, so no stratum systematically picks its teams first.
    selected.sort(key=lambda s: (s["score"], s["institution_id"]))
    return strata, selected


Assignment = tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]


def _unassignable(institution_id: str, eligible_count: int) -> dict[str, Any]:
    return {"institution_id": institution_id, "eligible_count": eligible_count, "reason": "fewer_than_two_eligible"}


def _assign_v1(
    keyed_score: Callable[[str], str],
    selected: Sequence[Mapping[str, str]],
    by_id: Mapping[str, InstitutionEntry],
    inspectors: Sequence[InspectorEntry],
    team_size: int,
) -> Assignment:
    """v1: rank all eligible inspectors by (workload, score("assign:" + institution + ":" + inspector), id)."""
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
            unassignable.append(_unassignable(institution["id"], len(eligible)))
            continue
        prefix = "assign:" + institution["id"] + ":"
        ranked_ids = sorted(eligible, key=lambda i: (workload[i], keyed_score(prefix + i), i))
        team = ranked_ids[:team_size]
        for i in team:
            workload[i] += 1
        teams.append({"institution_id": institution["id"], "inspector_ids": team, "short_team": len(team) < team_size})
    return teams, unassignable, workload


def _assign_v2(
    keyed_score: Callable[[str], str],
    selected: Sequence[Mapping[str, str]],
    by_id: Mapping[str, InstitutionEntry],
    inspectors: Sequence[InspectorEntry],
    team_size: int,
) -> Assignment:
    """v2: member ``r`` of a team is candidate number ``int(score("assign:" + institution + ":" + r)) mod n``
    among the ``n`` remaining eligible inspectors with the lowest workload, in id order (docs/draw.md §2.2).

    Per district, the covering inspectors sit in buckets keyed by workload, each sorted by id; the
    excluded and already chosen inspectors are skipped as holes in a bucket, so a pick costs
    ``team_size`` HMACs and O(team_size × (exclusions + bucket size)) list work, never a scan of
    all inspectors.
    """
    workload = {i["id"]: 0 for i in inspectors}
    districts_of = {i["id"]: i["districts"] for i in inspectors}
    covering: dict[str, set[str]] = {}  # district -> inspectors covering it
    for i in inspectors:
        for district in i["districts"]:
            covering.setdefault(district, set()).add(i["id"])
    # district -> workload -> the covering inspectors with that workload, sorted by id
    buckets: dict[str, dict[int, list[str]]] = {d: {0: sorted(ids)} for d, ids in covering.items()}
    nobody: set[str] = set()
    teams: list[dict[str, Any]] = []
    unassignable: list[dict[str, Any]] = []
    for pick in selected:
        institution_id = pick["institution_id"]
        institution = by_id[institution_id]
        district = institution["district"]
        pool = covering.get(district, nobody)
        # excluded (conflicts, previous team) as far as they cover the district, then the chosen members
        taken = pool.intersection(institution["conflicts"])
        taken.update(pool.intersection(institution["previous_team"]))
        eligible_count = len(pool) - len(taken)
        if eligible_count < MIN_TEAM:
            unassignable.append(_unassignable(institution_id, eligible_count))
            continue
        by_load = buckets[district]
        levels = sorted(by_load) if len(by_load) > 1 else list(by_load)
        level = 0
        prefix = "assign:" + institution_id + ":"
        team: list[str] = []
        for member in range(min(team_size, eligible_count)):
            while True:
                load = levels[level]
                bucket = by_load[load]
                holes = sorted([bisect_left(bucket, i) for i in taken if workload[i] == load]) if taken else []
                n = len(bucket) - len(holes)
                if n > 0:
                    break
                level += 1  # everyone left at this workload is excluded or already on the team
            position = int(keyed_score(prefix + str(member)), 16) % n
            for hole in holes:  # the position-th entry of the bucket that is not a hole
                if hole > position:
                    break
                position += 1
            chosen = bucket[position]
            team.append(chosen)
            taken.add(chosen)
        for chosen in team:  # one task more: move up one bucket in every district the member covers
            load = workload[chosen]
            workload[chosen] = load + 1
            for district in districts_of[chosen]:
                d_buckets = buckets[district]
                bucket = d_buckets[load]
                del bucket[bisect_left(bucket, chosen)]
                if not bucket:
                    del d_buckets[load]
                above = d_buckets.get(load + 1)
                if above is None:
                    d_buckets[load + 1] = [chosen]
                else:
                    insort(above, chosen)
        teams.append({"institution_id": institution_id, "inspector_ids": team, "short_team": len(team) < team_size})
    return teams, unassignable, workload
