#!/usr/bin/env python3
"""Independent verifier of a published 双随机 draw (standard library only).

Usage: python tools/verify_draw.py draw.json     (or "-" / nothing for stdin)

Reads the JSON of ``GET /v1/plans/{id}/draw`` and recomputes, from the published server seed,
witness value, frozen lists and parameters, everything the platform claims: the commitment, the
list hashes, the draw seed and the whole result, with the algorithm the record names
(``gz-childcare-draw/v1`` for plans created before v2, ``gz-childcare-draw/v2`` after it, ``/v3`` —
the seed from independent observers' reveals, each checked against its commitment and times — since). Exit 0 if
every field agrees; exit 1 naming the first field that differs; exit 2 if the input is unreadable
or names an algorithm this verifier does not know. The algorithms are specified in docs/draw.md;
this file is deliberately a separate implementation of them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import sys
from datetime import datetime
from fractions import Fraction
from typing import Any

STRATA = ("A", "B", "C", "D", "ungraded")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _hmac(seed_hex: str, message: str) -> str:
    return hmac.new(bytes.fromhex(seed_hex), message.encode("utf-8"), hashlib.sha256).hexdigest()


V1 = "gz-childcare-draw/v1"
V2 = "gz-childcare-draw/v2"
V3 = "gz-childcare-draw/v3"


def _select(seed: str, institutions: list[dict[str, Any]], params: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """§2.1, the same in v1 and v2: per stratum, the first ceil(n × ratio) by (score, id)."""
    strata = []
    selected = []
    for grade in STRATA:
        members = [i for i in institutions if i["grade"] == grade]
        ranked = sorted((_hmac(seed, "select:" + i["id"]), i["id"]) for i in members)
        ratio = params["ratios"][grade]
        take = min(len(members), math.ceil(len(members) * Fraction(ratio)))
        strata.append({"grade": grade, "candidates": len(members), "ratio": ratio, "selected": take})
        for s, i in ranked[:take]:
            selected.append({"institution_id": i, "grade": grade, "score": s})
    selected.sort(key=lambda s: (s["score"], s["institution_id"]))
    return strata, selected


def _team_v1(seed: str, inst: dict[str, Any], eligible: list[str], load: dict[str, int], size: int) -> list[str]:
    """v1 §2.2: the first team_size by (workload, score("assign:" + institution + ":" + inspector), id)."""
    ranked = sorted(eligible, key=lambda p: (load[p], _hmac(seed, "assign:" + inst["id"] + ":" + p), p))
    return ranked[:size]


def _team_v2(seed: str, inst: dict[str, Any], eligible: list[str], load: dict[str, int], size: int) -> list[str]:
    """v2 §2.2: member r = the (HMAC("assign:" + institution + ":" + r) mod n)-th, in id order, of the n
    remaining eligible inspectors whose workload is the lowest among the remaining eligible."""
    team: list[str] = []
    for r in range(min(size, len(eligible))):
        remaining = [p for p in eligible if p not in team]
        lowest = min(load[p] for p in remaining)
        tier = sorted(p for p in remaining if load[p] == lowest)
        team.append(tier[int(_hmac(seed, "assign:" + inst["id"] + ":" + str(r)), 16) % len(tier)])
    return team


def recompute_result(
    seed: str,
    institutions: list[dict[str, Any]],
    inspectors: list[dict[str, Any]],
    params: dict[str, Any],
    algorithm: str,
) -> dict[str, Any]:
    if algorithm not in (V1, V2, V3):
        raise ValueError(f"unsupported algorithm {algorithm!r} (this verifier knows {V1}, {V2} and {V3})")
    strata, selected = _select(seed, institutions, params)
    load = {i["id"]: 0 for i in inspectors}
    by_id = {i["id"]: i for i in institutions}
    team_of = _team_v1 if algorithm == V1 else _team_v2  # v3 assigns teams as v2
    teams, unassignable = [], []
    for pick in selected:
        inst = by_id[pick["institution_id"]]
        excluded = set(inst["conflicts"]) | set(inst["previous_team"])
        eligible = [p["id"] for p in inspectors if inst["district"] in p["districts"] and p["id"] not in excluded]
        if len(eligible) < 2:
            unassignable.append(
                {"institution_id": inst["id"], "eligible_count": len(eligible), "reason": "fewer_than_two_eligible"}
            )
            continue
        team = team_of(seed, inst, eligible, load, int(params["team_size"]))
        for p in team:
            load[p] += 1
        teams.append(
            {"institution_id": inst["id"], "inspector_ids": team, "short_team": len(team) < params["team_size"]}
        )
    return {
        "algorithm": algorithm,
        "strata": strata,
        "selected": selected,
        "teams": teams,
        "unassignable": unassignable,
        "workload": load,
    }


def _first_difference(path: str, claimed: Any, actual: Any) -> str | None:
    if isinstance(claimed, dict) and isinstance(actual, dict):
        for key in sorted(set(claimed) | set(actual)):
            diff = _first_difference(f"{path}.{key}", claimed.get(key), actual.get(key))
            if diff:
                return diff
        return None
    if isinstance(claimed, list) and isinstance(actual, list):
        for n in range(max(len(claimed), len(actual))):
            a = claimed[n] if n < len(claimed) else None
            b = actual[n] if n < len(actual) else None
            diff = _first_difference(f"{path}[{n}]", a, b)
            if diff:
                return diff
        return None
    return None if claimed == actual else path


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def verify_witness(record: dict[str, Any]) -> tuple[str | None, str]:
    """v3 §1.1/§2: (the first inconsistent field or None, the expected draw seed). Every observer registered
    by the commit; every reveal opens its commitment and came no earlier than the reveal time; an observer
    is withheld only if the draw came after the grace period; at least one reveal; then the digest."""
    witness = record["witness"]
    committed_at = _time(record["committed_at"])
    drawn_at = _time(record["drawn_at"])
    not_before = _time(witness["reveal_not_before"])
    withheld_after = _time(witness["withheld_after"])
    if not_before < committed_at:
        return "witness.reveal_not_before", ""
    if drawn_at < not_before:
        return "drawn_at", ""
    reveals = []
    for n, o in enumerate(witness["observers"]):
        at = f"witness.observers[{n}]"
        if _time(o["registered_at"]) > committed_at:
            return f"{at}.registered_at", ""
        if o["status"] == "revealed":
            opened = hashlib.sha256(o["value"].encode("utf-8") + bytes.fromhex(o["salt"])).hexdigest()
            if opened != o["commitment"]:
                return f"{at}.commitment", ""
            revealed_at = _time(o["revealed_at"])
            if revealed_at < not_before or revealed_at > drawn_at:
                return f"{at}.revealed_at", ""
            reveals.append({"id": o["id"], "value": o["value"]})
        elif o["status"] == "withheld":
            if drawn_at < withheld_after:
                return f"{at}.status", ""  # a draw that did not wait out the grace period
        else:
            return f"{at}.status", ""  # a drawn record has no observer left undecided
    if not reveals:
        return "witness.observers", ""
    digest = hashlib.sha256(_canonical(sorted(reveals, key=lambda r: r["id"]))).hexdigest()
    if witness["witness_digest"] != digest:
        return "witness.witness_digest", ""
    return None, hashlib.sha256(bytes.fromhex(record["server_seed"]) + bytes.fromhex(digest)).hexdigest()


def verify(record: dict[str, Any]) -> str | None:
    """None if the record is consistent, else the name of the first field that is not."""
    seed_hex = record["server_seed"]
    if seed_hex is None:
        return "server_seed"  # not revealed yet: nothing can be verified but the commitment's form
    if record["algorithm"] not in (V1, V2, V3):
        raise ValueError(f"unsupported algorithm {record['algorithm']!r} (this verifier knows {V1}, {V2} and {V3})")
    if record["algorithm"] == V3:
        problem, expected_seed = verify_witness(record)
        if problem:
            return problem
    else:
        expected_seed = hashlib.sha256(bytes.fromhex(seed_hex) + record["witness_value"].encode("utf-8")).hexdigest()
    checks = [
        ("commitment", hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()),
        ("institutions_hash", hashlib.sha256(_canonical(record["institutions"])).hexdigest()),
        ("inspectors_hash", hashlib.sha256(_canonical(record["inspectors"])).hexdigest()),
        ("draw_seed", expected_seed),
    ]
    for name, expected in checks:
        if record.get(name) != expected:
            return name
    actual = recompute_result(
        record["draw_seed"], record["institutions"], record["inspectors"], record["parameters"], record["algorithm"]
    )
    return _first_difference("result", record.get("result"), actual)


def main(argv: list[str]) -> int:
    source = argv[1] if len(argv) > 1 else "-"
    try:
        text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
        record = json.loads(text)
        problem = verify(record)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.stderr.write(f"cannot read the draw record: {type(exc).__name__}: {exc}\n")
        return 2
    if problem is None:
        sys.stdout.write("OK: the draw recomputes exactly (commitment, list hashes, draw seed, result)\n")
        return 0
    sys.stdout.write(f"MISMATCH: {problem}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
