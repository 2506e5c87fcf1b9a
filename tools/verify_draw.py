#!/usr/bin/env python3
"""Independent verifier of a published 双随机 draw (standard library only, and py-ecc for a beacon).

Usage: python tools/verify_draw.py [--skip-beacon-signature] [--commit plan.json] draw.json
       (draw.json "-" or nothing: stdin)

Reads the JSON of ``GET /v1/plans/{id}/draw`` and recomputes, from the published server seed,
witness value, frozen lists and parameters, everything the platform claims: the commitment, the
list hashes, the draw seed and the whole result, with the algorithm the record names
(``gz-childcare-draw/v1`` for plans created before v2, ``gz-childcare-draw/v2`` after it, ``/v3`` —
the seed from independent observers' reveals, each checked against its commitment and times — since). Exit 0 if
every field agrees; exit 1 naming the first field that differs; exit 2 if the input is unreadable
or names an algorithm this verifier does not know. The algorithms are specified in docs/draw.md;
this file is deliberately a separate implementation of them.

A v3 record may name a public randomness beacon round (docs/draw.md §1.2, drand quicknet). Its
randomness = sha256(signature), its round time and its place in the draw seed are checked with the
standard library; its BLS signature against the chain's public key — pinned below from the beacon
operators' publication, never taken from the record — with py-ecc (``pip install py-ecc``). Without
py-ecc the verifier stops (exit 2) unless ``--skip-beacon-signature`` says to check everything else.

``--commit plan.json``: the plan as published at its commit (``GET /v1/public/plans/{id}``, kept from
before the draw). The drawn record alone cannot show what was fixed at the commit — a record with its
beacon removed and its seed recomputed is self-consistent — so the verifier then also checks that the
record keeps what the commit published: the plan, its commitment and list hashes, the reveal time, the
end of the grace period, every observer's commitment and the beacon chain and round (or their absence).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import sys
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

STRATA = ("A", "B", "C", "D", "ungraded")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _hmac(seed_hex: str, message: str) -> str:
    return hmac.new(bytes.fromhex(seed_hex), message.encode("utf-8"), hashlib.sha256).hexdigest()


# drand chains whose rounds this verifier accepts, as their operators publish them
# (https://api.drand.sh/<chain hash>/info). A record's own copy of the key must equal this one.
BEACON_CHAINS: dict[str, dict[str, Any]] = {
    "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971": {  # League of Entropy quicknet
        "scheme": "bls-unchained-g1-rfc9380",
        "public_key": "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064"
        "510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
        "genesis_time": 1692803367,
        "period_seconds": 3,
    },
}
BEACON_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
BEACON_SIGNATURE = re.compile(r"[0-9a-f]{96}")  # a compressed G1 point, 48 bytes, as the record writes it
# what the commit fixes of a beacon round (its signature and randomness come with the draw)
BEACON_DECLARED = ("chain_hash", "scheme", "public_key", "genesis_time", "period_seconds", "round", "round_time")


class BeaconCheckUnavailable(Exception):
    """The BLS check needs py-ecc, which is not installed."""


def beacon_signature_valid(public_key: str, round_number: int, signature: str) -> bool:
    """bls-unchained-g1-rfc9380: e(signature, g2) == e(hash_to_G1(sha256(round, 8 bytes BE)), public key),
    the signature a non-identity point of G1's prime-order subgroup (py-ecc's primitives)."""
    try:
        from py_ecc.bls.g2_primitives import subgroup_check
        from py_ecc.bls.hash_to_curve import hash_to_G1
        from py_ecc.bls.point_compression import decompress_G1, decompress_G2
        from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
        from py_ecc.optimized_bls12_381.optimized_curve import G2, is_inf, neg
        from py_ecc.optimized_bls12_381.optimized_pairing import final_exponentiate, pairing
    except ImportError as exc:
        raise BeaconCheckUnavailable(str(exc)) from exc
    key_bytes, sig_bytes = bytes.fromhex(public_key), bytes.fromhex(signature)
    key = decompress_G2((int.from_bytes(key_bytes[:48], "big"), int.from_bytes(key_bytes[48:], "big")))  # type: ignore[arg-type]
    if len(sig_bytes) != 48:
        return False
    try:
        point = decompress_G1(int.from_bytes(sig_bytes, "big"))  # type: ignore[arg-type]
    except ValueError:
        return False
    if is_inf(point) or not subgroup_check(point) or not subgroup_check(key):
        return False
    message = hashlib.sha256(round_number.to_bytes(8, "big")).digest()
    hashed = hash_to_G1(message, BEACON_DST, hashlib.sha256)  # type: ignore[arg-type]
    product = pairing(G2, point, final_exponentiate=False) * pairing(key, neg(hashed), final_exponentiate=False)
    return bool(final_exponentiate(product) == FQ12.one())


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


def verify_beacon(record: dict[str, Any], check_signature: bool) -> tuple[str | None, bytes, datetime | None]:
    """v3 §1.2: (the first inconsistent field or None, the 32 randomness bytes for the seed, the round's time)."""
    beacon = record["witness"]["beacon"]
    known = BEACON_CHAINS.get(beacon["chain_hash"])
    if known is None:
        raise ValueError(f"unknown beacon chain {beacon['chain_hash']!r} (this verifier knows {sorted(BEACON_CHAINS)})")
    for key, value in known.items():
        if beacon[key] != value:
            return f"witness.beacon.{key}", b"", None
    round_number = beacon["round"]
    if type(round_number) is not int or not 1 <= round_number < 2**64:  # the message is the round as 8 bytes
        return "witness.beacon.round", b"", None
    try:
        round_time = datetime.fromtimestamp(known["genesis_time"] + (round_number - 1) * known["period_seconds"], UTC)
    except (OverflowError, OSError, ValueError):  # a round whose time is no date
        return "witness.beacon.round", b"", None
    if _time(beacon["round_time"]) != round_time:
        return "witness.beacon.round_time", b"", None
    # Strictly after the reveal time (and the commit): reveals close at the round's time, so its value
    # is unknown while a reveal can still be made or withheld. At the latest the first round at or after
    # the end of the grace period, so the draw is not put off past what the withheld rule bounds.
    not_before, withheld_after = (
        _time(record["witness"]["reveal_not_before"]),
        _time(record["witness"]["withheld_after"]),
    )
    latest = round_time - timedelta(seconds=known["period_seconds"]) < withheld_after
    if not (round_time > not_before and round_time > _time(record["committed_at"]) and latest):
        return "witness.beacon.round", b"", None
    if _time(record["drawn_at"]) < round_time:
        return "drawn_at", b"", None
    signature = beacon["signature"]
    if not isinstance(signature, str) or not BEACON_SIGNATURE.fullmatch(signature):
        return "witness.beacon.signature", b"", None
    randomness = hashlib.sha256(bytes.fromhex(signature)).digest()
    if beacon["randomness"] != randomness.hex():
        return "witness.beacon.randomness", b"", None
    if check_signature and not beacon_signature_valid(known["public_key"], round_number, signature):
        return "witness.beacon.signature", b"", None
    return None, randomness, round_time


def verify_witness(record: dict[str, Any], check_beacon_signature: bool = True) -> tuple[str | None, str]:
    """v3 §1.1/§1.2/§2: (the first inconsistent field or None, the expected draw seed). The beacon round, if
    any; every observer registered by the commit; every reveal opens its commitment and came no earlier than
    the reveal time and, with a beacon, strictly before the round's time; an observer is withheld only if the
    draw came after the grace period or, with a beacon, after the round's time; at least one reveal; then
    the digest."""
    witness = record["witness"]
    committed_at = _time(record["committed_at"])
    drawn_at = _time(record["drawn_at"])
    not_before = _time(witness["reveal_not_before"])
    withheld_after = _time(witness["withheld_after"])
    if not_before < committed_at:
        return "witness.reveal_not_before", ""
    if drawn_at < not_before:
        return "drawn_at", ""
    beacon_randomness = b""  # a plan that named no beacon round: the seed has two parts
    round_time: datetime | None = None
    if witness.get("beacon") is not None:
        problem, beacon_randomness, round_time = verify_beacon(record, check_beacon_signature)
        if problem:
            return problem, ""
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
            if round_time is not None and revealed_at >= round_time:
                return f"{at}.revealed_at", ""  # a reveal made once the beacon round was public
            reveals.append({"id": o["id"], "value": o["value"]})
        elif o["status"] == "withheld":
            if drawn_at < withheld_after and (round_time is None or drawn_at < round_time):
                return f"{at}.status", ""  # a draw that did not wait out the grace period
        else:
            return f"{at}.status", ""  # a drawn record has no observer left undecided
    if not reveals:
        return "witness.observers", ""
    digest = hashlib.sha256(_canonical(sorted(reveals, key=lambda r: r["id"]))).hexdigest()
    if witness["witness_digest"] != digest:
        return "witness.witness_digest", ""
    seed = bytes.fromhex(record["server_seed"]) + bytes.fromhex(digest) + beacon_randomness
    return None, hashlib.sha256(seed).hexdigest()


def _same_time(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return _time(a) == _time(b)


def compare_with_commit(record: dict[str, Any], commit: dict[str, Any]) -> str | None:
    """None if the drawn record keeps everything the plan published at its commit, else the first field
    of the record that does not (its name in the drawn record)."""
    if str(record["plan_id"]) != str(commit["id"]):
        return "plan_id"
    for name in ("algorithm", "commitment", "institutions_hash", "inspectors_hash"):
        if record.get(name) != commit.get(name):
            return name
    if not _same_time(record["committed_at"], commit["committed_at"]):
        return "committed_at"
    witness, declared = record.get("witness"), commit.get("witness")
    if (witness is None) != (declared is None):
        return "witness"
    if witness is None or declared is None:
        return None
    for name in ("reveal_not_before", "withheld_after"):
        if not _same_time(witness.get(name), declared.get(name)):
            return f"witness.{name}"
    published = {o["id"]: o["commitment"] for o in declared["observers"]}
    drawn = {o["id"]: o["commitment"] for o in witness["observers"]}
    for n, o in enumerate(witness["observers"]):
        if published.get(o["id"]) != o["commitment"]:
            return f"witness.observers[{n}].commitment"
    if set(published) != set(drawn):
        return "witness.observers"  # an observer published at the commit is missing from the record
    beacon, named = witness.get("beacon"), declared.get("beacon")
    if (beacon is None) != (named is None):
        return "witness.beacon"  # a beacon round removed from, or added to, what the commit fixed
    if beacon is not None and named is not None:
        for key in BEACON_DECLARED:
            same = (
                _same_time(beacon.get(key), named.get(key))
                if key == "round_time"
                else beacon.get(key) == named.get(key)
            )
            if not same:
                return f"witness.beacon.{key}"
    return None


def verify(
    record: dict[str, Any], check_beacon_signature: bool = True, commit: dict[str, Any] | None = None
) -> str | None:
    """None if the record is consistent (and, given the plan as published at its commit, keeps what the
    commit fixed), else the name of the first field that is not."""
    if commit is not None:
        changed = compare_with_commit(record, commit)
        if changed:
            return changed
    seed_hex = record["server_seed"]
    if seed_hex is None:
        return "server_seed"  # not revealed yet: nothing can be verified but the commitment's form
    if record["algorithm"] not in (V1, V2, V3):
        raise ValueError(f"unsupported algorithm {record['algorithm']!r} (this verifier knows {V1}, {V2} and {V3})")
    if record["algorithm"] == V3:
        problem, expected_seed = verify_witness(record, check_beacon_signature)
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
    args = argv[1:]
    check_beacon_signature = "--skip-beacon-signature" not in args
    args = [a for a in args if a != "--skip-beacon-signature"]
    commit_source: str | None = None
    if "--commit" in args:
        at = args.index("--commit")
        if at + 1 >= len(args):
            sys.stderr.write("--commit needs the file of the plan as published at its commit\n")
            return 2
        commit_source = args[at + 1]
        del args[at : at + 2]
    source = args[0] if args else "-"
    try:
        text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
        record = json.loads(text)
        commit = None
        if commit_source is not None:
            with open(commit_source, encoding="utf-8") as published:
                commit = json.load(published)
        problem = verify(record, check_beacon_signature, commit)
    except BeaconCheckUnavailable as exc:
        sys.stderr.write(
            f"cannot check the beacon round's BLS signature: {exc}. Install py-ecc (pip install py-ecc), or pass "
            "--skip-beacon-signature to verify everything else\n"
        )
        return 2
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.stderr.write(f"cannot read the draw record: {type(exc).__name__}: {exc}\n")
        return 2
    if problem is None:
        beacon = (record.get("witness") or {}).get("beacon")
        if beacon is None:
            note = ""
        elif check_beacon_signature:
            note = f"; beacon round {beacon['round']}'s signature verified against the pinned public key"
        else:
            note = f"; beacon round {beacon['round']}'s signature NOT checked (--skip-beacon-signature)"
        if commit_source is not None:
            note += "; the record keeps what the plan published at its commit"
        sys.stdout.write(f"OK: the draw recomputes exactly (commitment, list hashes, draw seed, result){note}\n")
        return 0
    sys.stdout.write(f"MISMATCH: {problem}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
