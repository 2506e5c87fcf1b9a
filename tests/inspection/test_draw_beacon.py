"""A public randomness beacon round as a witness of the draw (docs/draw.md §1.2): drand quicknet,
named at the commit, accepted at the draw only with the round's signature valid under the beacon's
published key (py-ecc), through the HTTP API against real PostgreSQL, and checked again by
tools/verify_draw.py on the public record. Time moves through ``app.state.clock``.

The rounds below are genuine quicknet rounds as drand's relays publish them
(``https://api.drand.sh/52db9ba7…/public/<round>``); nothing here can sign a round, so a test that
accepts one shows that the service checks real signatures, and the refusals that it checks them."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.inspection import beacon, draw
from services.inspection.pool import service as pool_service
from shared.db import Database
from tests.inspection.support import SUPERVISOR, VERIFIER, filed, inspector_body, verify
from tests.inspection.test_draw import V3_OBSERVERS, load_verifier, vector_pool
from tests.support import create_app, running, settings_for

CHAIN = beacon.QUICKNET.chain_hash
# quicknet round 657413, produced 2023-09-15T11:00:03Z, and its randomness sha256(signature)
ROUND = 657413
SIGNATURE = "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
RANDOMNESS = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
# quicknet rounds 2 and 3 (2023-08-23): valid signatures, of other rounds
SIGNATURE_2 = "b6b6a585449b66eb12e875b64fcbab3799861a00e4dbf092d99e969a5eac57dd3f798acf61e705fe4f093db926626807"
SIGNATURE_3 = "b3fab6df720b68cc47175f2c777e86d84187caab5770906f515ff1099cb01e4deaa027075d860823e49477b93c72bd64"

ROUND_TIME = datetime(2023, 9, 15, 11, 0, 3, tzinfo=UTC)
T0 = datetime(2023, 9, 14, 9, 0, tzinfo=UTC)  # the commit: reveals from 2023-09-15T09:00Z, grace until the 16th
DAY = timedelta(hours=24)


def flipped(signature: str, bit: int) -> str:
    raw = bytearray.fromhex(signature)
    raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


# --- the BLS check itself -------------------------------------------------------------------------------


def test_the_beacon_key_verifies_real_rounds_and_nothing_else() -> None:
    assert beacon.QUICKNET.round_time(ROUND) == ROUND_TIME
    assert beacon.randomness(SIGNATURE) == RANDOMNESS
    assert beacon.signature_valid(beacon.QUICKNET, ROUND, SIGNATURE)
    assert beacon.signature_valid(beacon.QUICKNET, 2, SIGNATURE_2)
    assert beacon.signature_valid(beacon.QUICKNET, 3, SIGNATURE_3)
    # the same signatures for any other round, a flipped bit anywhere, garbage, another key
    assert not beacon.signature_valid(beacon.QUICKNET, ROUND + 1, SIGNATURE)
    assert not beacon.signature_valid(beacon.QUICKNET, 3, SIGNATURE_2)
    assert not beacon.signature_valid(beacon.QUICKNET, ROUND, SIGNATURE_3)
    for bit in (7, 200, 383):  # the compression flag (first byte's top bit), one in the middle, one in the last byte
        assert not beacon.signature_valid(beacon.QUICKNET, ROUND, flipped(SIGNATURE, bit)), bit
    assert not beacon.signature_valid(beacon.QUICKNET, ROUND, "00" * 48)
    assert not beacon.signature_valid(beacon.QUICKNET, ROUND, "c0" + "00" * 47)  # the identity point
    assert not beacon.signature_valid(beacon.QUICKNET, ROUND, SIGNATURE[:94])
    other_key = beacon.BeaconChain(
        chain_hash="00" * 32,
        # a valid key that never signed quicknet's rounds: the generator of G2, compressed
        public_key=(
            "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
            "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
        ),
        genesis_time=beacon.QUICKNET.genesis_time,
        period_seconds=3,
    )
    assert not beacon.signature_valid(other_key, ROUND, SIGNATURE)


def test_the_first_round_not_before_a_time() -> None:
    chain = beacon.QUICKNET
    assert chain.first_round_at_or_after(ROUND_TIME) == ROUND
    assert chain.first_round_at_or_after(ROUND_TIME - timedelta(microseconds=1)) == ROUND
    assert chain.first_round_at_or_after(ROUND_TIME + timedelta(microseconds=1)) == ROUND + 1
    assert chain.first_round_at_or_after(datetime(2000, 1, 1, tzinfo=UTC)) == 1


# --- docs/draw.md §4.3's beacon vector -------------------------------------------------------------------


def test_the_documented_v3_vector_with_a_beacon() -> None:
    """docs/draw.md §4.3: the v3 vector's seed and observers, plus quicknet round 657413, by the service's
    functions and by tools/verify_draw.py on a whole record (which also re-checks the BLS signature)."""
    server_seed = "00" * 31 + "01"
    digest = draw.witness_digest([{"id": i, "value": v} for i, v, _ in V3_OBSERVERS])
    assert digest == "1337b7ee9f88638f2965391932a9ac5f05b729418df1c370e365b84b74ecb7c9"
    assert beacon.round_message(ROUND).hex() == "0fd94c1b7255c5da6cd55fe581fe3fb17482587dc22af51f1bfc22e43668ba68"
    seed = draw.draw_seed_v3(server_seed, digest, RANDOMNESS)
    assert seed == "3f70140614bb5fc503602dd5a6fad8d93582e8a559c721db0cc52fd4c9b77242"
    assert seed == hashlib.sha256(bytes.fromhex(server_seed + digest + RANDOMNESS)).hexdigest()
    institutions, inspectors, parameters = vector_pool()
    result = draw.run_draw(seed, institutions, inspectors, parameters, draw.ALGORITHM_V3)
    teams = " ".join(f"{t['institution_id']}:{','.join(t['inspector_ids'])}" for t in result["teams"])
    assert (
        teams
        == "inst-5:insp-2,insp-3 inst-2:insp-4,insp-2 inst-1:insp-1,insp-3 inst-4:insp-5,insp-2 inst-3:insp-1,insp-4"
    )
    assert result["unassignable"] == [
        {"institution_id": "inst-6", "eligible_count": 0, "reason": "fewer_than_two_eligible"}
    ]
    assert result["workload"] == {"insp-1": 2, "insp-2": 3, "insp-3": 2, "insp-4": 2, "insp-5": 1}
    record: dict[str, Any] = {
        "algorithm": draw.ALGORITHM_V3,
        "parameters": parameters,
        "institutions": institutions,
        "institutions_hash": draw.list_hash(institutions),
        "inspectors": inspectors,
        "inspectors_hash": draw.list_hash(inspectors),
        "commitment": draw.commitment(server_seed),
        "committed_at": "2023-09-14T09:00:00Z",
        "server_seed": server_seed,
        "witness_value": None,
        "witness": {
            "reveal_not_before": "2023-09-15T09:00:00Z",
            "withheld_after": "2023-09-16T09:00:00Z",
            "observers": [
                {
                    "id": i,
                    "organisation": "演示监督单位",
                    "commitment": draw.observer_commitment(v, s),
                    "registered_at": "2023-09-14T08:00:00Z",
                    "status": "revealed",
                    "value": v,
                    "salt": s,
                    "revealed_at": "2023-09-15T09:30:00Z",
                }
                for i, v, s in V3_OBSERVERS
            ],
            "witness_digest": digest,
            "beacon": {
                **beacon.QUICKNET.as_record(),
                "round": ROUND,
                "round_time": "2023-09-15T11:00:03Z",
                "signature": SIGNATURE,
                "randomness": RANDOMNESS,
            },
        },
        "draw_seed": seed,
        "result": result,
        "drawn_at": "2023-09-15T11:05:00Z",
    }
    verifier = load_verifier()
    assert verifier.verify(record) is None
    assert verify(record).returncode == 0
    # the same record without the beacon's part of the seed does not verify
    assert verifier.verify({**record, "draw_seed": draw.draw_seed_v3(server_seed, digest)}) == "draw_seed"

    # a third party without py-ecc (python -S: the standard library only) is told, not told "OK" …
    bare = [sys.executable, "-S", str(VERIFIER)]
    stopped = subprocess.run([*bare, "-"], input=json.dumps(record), capture_output=True, text=True, check=False)
    assert stopped.returncode == 2, stopped.stdout + stopped.stderr
    assert "py-ecc" in stopped.stderr
    assert stopped.stdout == ""
    # … unless it asks to check everything but the signature, which the output then says
    skipped = subprocess.run(
        [*bare, "--skip-beacon-signature", "-"], input=json.dumps(record), capture_output=True, text=True, check=False
    )
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert f"beacon round {ROUND}'s signature NOT checked" in skipped.stdout


# --- through the API ------------------------------------------------------------------------------------


class Beaconed:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
        self.app, self.client, self.db = app, client, db
        self.now = T0
        app.state.clock = lambda: self.now
        self.secrets: dict[str, tuple[str, str]] = {}

    async def city(self) -> None:
        async with self.db.transaction() as session:
            for _ in range(5):
                await pool_service.apply_filed(session, filed())
        for n in range(4):
            body = inspector_body(f"insp-b{n}", ["440106"], badge=f"GZ-B{n:04d}")
            r = await self.client.post("/v1/inspectors", json=body, headers=SUPERVISOR)
            assert r.status_code == 201, r.text

    async def plan_with_observers(self) -> str:
        body = {
            "name": "天河区托育机构双随机抽查（随机信标）",
            "districts": ["天河区"],
            "sampling_ratios": dict.fromkeys(draw.STRATA, 1),
            "window_start": "2023-09-20",
            "window_end": "2023-10-20",
        }
        r = await self.client.post("/v1/plans", json=body, headers=SUPERVISOR)
        assert r.status_code == 201, r.text
        plan_id = str(r.json()["id"])
        for organisation in ("天河区纪委监委派驻纪检监察组", "广州市南方公证处"):
            value, salt = f"{organisation} {secrets.randbelow(10**6):06d}", secrets.token_hex(32)
            commitment = draw.observer_commitment(value, salt)
            r = await self.client.post(
                f"/v1/plans/{plan_id}/observers",
                json={"organisation": organisation, "commitment": commitment},
                headers=SUPERVISOR,
            )
            assert r.status_code == 201, r.text
            self.secrets[r.json()["id"]] = (value, salt)
        return plan_id

    async def commit(self, plan_id: str, body: dict[str, Any] | None) -> httpx.Response:
        return await self.client.post(f"/v1/plans/{plan_id}/commit", json=body, headers=SUPERVISOR)

    async def reveal_all(self, plan_id: str) -> None:
        for observer_id, (value, salt) in self.secrets.items():
            r = await self.client.post(
                f"/v1/plans/{plan_id}/observers/{observer_id}/reveal",
                json={"value": value, "salt": salt},
                headers=SUPERVISOR,
            )
            assert r.status_code == 200, r.text

    async def draw(self, plan_id: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/v1/plans/{plan_id}/draw", json=body, headers=SUPERVISOR)


@pytest.fixture
async def b(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[Beaconed]:
    db = await rollback_db("inspection")
    settings = settings_for(
        "inspection",
        run_background_workers=False,
        draw_min_observers=2,
        draw_reveal_delay_seconds=86400,
        draw_withheld_grace_seconds=86400,
    )
    app = create_app("inspection", settings, db)
    async with running(app) as client:
        yield Beaconed(app, client, db)


def refusal(r: httpx.Response) -> tuple[int, str, str | None]:
    error = r.json()["error"]
    return r.status_code, str(error["code"]), error.get("field")


async def test_a_beacon_round_fixed_at_the_commit_is_accepted_only_with_its_valid_signature(b: Beaconed) -> None:
    await b.city()
    plan_id = await b.plan_with_observers()
    committed = await b.commit(plan_id, {"beacon": {"chain_hash": CHAIN, "round": ROUND}})
    assert committed.status_code == 200, committed.text
    # public from the commit on: the source, its key and the round, no signature yet
    declared = (await b.client.get(f"/v1/public/plans/{plan_id}")).json()["witness"]["beacon"]
    assert declared == {
        "chain_hash": CHAIN,
        "scheme": "bls-unchained-g1-rfc9380",
        "public_key": beacon.QUICKNET.public_key,
        "genesis_time": 1692803367,
        "period_seconds": 3,
        "round": ROUND,
        "round_time": "2023-09-15T11:00:03Z",
        "signature": None,
        "randomness": None,
    }

    b.now = T0 + DAY  # the reveal time, two hours before the round
    await b.reveal_all(plan_id)
    early = await b.draw(plan_id, {"beacon_signature": SIGNATURE})
    assert refusal(early) == (409, "beacon_round_not_reached", None)
    assert "尚未产生" in early.json()["error"]["message"]

    b.now = ROUND_TIME
    assert refusal(await b.draw(plan_id, {})) == (422, "beacon_signature_required", "beacon_signature")
    bad = await b.draw(plan_id, {"beacon_signature": flipped(SIGNATURE, 200)})
    assert refusal(bad) == (422, "beacon_signature_invalid", "beacon_signature")
    assert f"第 {ROUND} 轮的有效签名" in bad.json()["error"]["message"]
    other_round = await b.draw(plan_id, {"beacon_signature": SIGNATURE_3})  # genuine, for round 3
    assert refusal(other_round) == (422, "beacon_signature_invalid", "beacon_signature")
    malformed = await b.draw(plan_id, {"beacon_signature": SIGNATURE[:-2]})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["field"] == "beacon_signature"
    record = (await b.client.get(f"/v1/plans/{plan_id}/draw", headers=SUPERVISOR)).json()
    assert record["status"] == "committed", "a refused signature changes nothing"
    assert record["witness"]["beacon"]["signature"] is None

    drawn = await b.draw(plan_id, {"beacon_signature": SIGNATURE})
    assert drawn.status_code == 200, drawn.text
    record = (await b.client.get(f"/v1/public/plans/{plan_id}/draw")).json()  # anonymous
    assert record["witness"]["beacon"] == declared | {"signature": SIGNATURE, "randomness": RANDOMNESS}
    digest = record["witness"]["witness_digest"]
    assert record["draw_seed"] == draw.draw_seed_v3(record["server_seed"], digest, RANDOMNESS)
    assert record["draw_seed"] != draw.draw_seed_v3(record["server_seed"], digest), "the beacon is in the seed"
    checked = verify(record)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"beacon round {ROUND}'s signature verified" in checked.stdout
    # a drawn plan is refused as drawn, whatever the signature (the status is read before the BLS check)
    again = await b.draw(plan_id, {"beacon_signature": flipped(SIGNATURE, 200)})
    assert refusal(again) == (409, "plan_already_drawn", None)

    # what tools/verify_draw.py catches in a retouched record
    def tampered(**beacon_fields: Any) -> str:
        copy = json.loads(json.dumps(record))
        copy["witness"]["beacon"].update(beacon_fields)
        return verify(copy).stdout.strip()

    assert tampered(randomness="00" * 32) == "MISMATCH: witness.beacon.randomness"
    # another genuine round's signature with its own randomness: only the BLS check can tell
    other = {"signature": SIGNATURE_3, "randomness": beacon.randomness(SIGNATURE_3)}
    assert tampered(**other) == "MISMATCH: witness.beacon.signature"
    assert tampered(signature=flipped(SIGNATURE, 200), randomness=beacon.randomness(flipped(SIGNATURE, 200))) == (
        "MISMATCH: witness.beacon.signature"
    )
    # the signature claimed for the round before (its time also after the reveal time)
    assert tampered(round=ROUND - 1, round_time="2023-09-15T11:00:00Z") == "MISMATCH: witness.beacon.signature"
    # a round produced after the draw
    assert tampered(round=ROUND + 1, round_time="2023-09-15T11:00:06Z") == "MISMATCH: drawn_at"
    assert tampered(round_time="2023-09-15T11:00:00Z") == "MISMATCH: witness.beacon.round_time"
    assert tampered(public_key=other_key_hex()) == "MISMATCH: witness.beacon.public_key"
    # a round before the reveal time (its value known to everyone before the reveals)
    assert tampered(round=2, round_time="2023-08-23T15:09:30Z", signature=SIGNATURE_2) == (
        "MISMATCH: witness.beacon.round"
    )
    # a round whose time is no date, or whose number is no 8-byte integer: named, not a traceback
    assert tampered(round=2**62) == "MISMATCH: witness.beacon.round"
    assert tampered(round=10**30) == "MISMATCH: witness.beacon.round"
    # a signature not written as 96 lowercase hex digits
    assert tampered(signature=SIGNATURE.upper()) == "MISMATCH: witness.beacon.signature"
    assert tampered(signature="zz" * 48) == "MISMATCH: witness.beacon.signature"
    unchecked = json.loads(json.dumps(record))
    unchecked["witness"]["beacon"].update(other)
    skipped = load_verifier().verify(unchecked, check_beacon_signature=False)
    assert skipped == "draw_seed", "without the BLS check the seed still binds the randomness"


def other_key_hex() -> str:
    return "a" + beacon.QUICKNET.public_key[1:]


async def test_a_beacon_round_is_named_at_the_commit_after_the_reveal_time(b: Beaconed) -> None:
    await b.city()
    plan_id = await b.plan_with_observers()
    reveal = T0 + DAY
    too_early = beacon.QUICKNET.first_round_at_or_after(reveal) - 1  # 3 s before the reveal time
    r = await b.commit(plan_id, {"beacon": {"chain_hash": CHAIN, "round": too_early}})
    assert refusal(r) == (422, "beacon_round_too_early", "beacon.round")
    assert "早于揭示时间" in r.json()["error"]["message"]
    # produced at the reveal time itself: reveals would close as they open
    at_reveal = beacon.QUICKNET.first_round_at_or_after(reveal)
    assert beacon.QUICKNET.round_time(at_reveal) == reveal
    r = await b.commit(plan_id, {"beacon": {"chain_hash": CHAIN, "round": at_reveal}})
    assert refusal(r) == (422, "beacon_round_too_early", "beacon.round")
    assert (await b.commit(plan_id, {"beacon": {"chain_hash": CHAIN, "round": at_reveal + 1}})).status_code == 200


async def test_a_beacon_round_is_at_the_latest_the_first_at_or_after_the_grace_period_and_that_by_default(
    b: Beaconed,
) -> None:
    await b.city()
    plan_id = await b.plan_with_observers()
    reveal = T0 + DAY
    beyond_grace = beacon.QUICKNET.first_round_at_or_after(reveal + DAY + timedelta(seconds=1))
    r = await b.commit(plan_id, {"beacon": {"chain_hash": CHAIN, "round": beyond_grace}})
    assert refusal(r) == (422, "beacon_round_too_late", "beacon.round")
    r = await b.commit(plan_id, {"beacon": {"chain_hash": "ab" * 32, "round": ROUND}})
    assert refusal(r) == (422, "beacon_chain_unknown", "beacon.chain_hash")
    assert (await b.client.get(f"/v1/public/plans/{plan_id}")).status_code == 404, "still a draft"

    # without a round: the first one at or after the end of the grace period, so the observers have it all
    committed = await b.commit(plan_id, {"beacon": {"chain_hash": CHAIN}})
    assert committed.status_code == 200, committed.text
    named = (await b.client.get(f"/v1/public/plans/{plan_id}")).json()["witness"]["beacon"]
    withheld_after = reveal + DAY
    assert named["round"] == beacon.QUICKNET.first_round_at_or_after(withheld_after) == beyond_grace - 1
    assert datetime.fromisoformat(named["round_time"]) >= withheld_after
    assert datetime.fromisoformat(named["round_time"]) - withheld_after < timedelta(seconds=3)


async def test_reveals_close_at_the_beacon_round_and_an_observer_silent_until_then_is_withheld(
    b: Beaconed,
) -> None:
    """Once the round is public, whoever knows the server seed could compute the draw with and without a
    reveal: the service refuses reveals from the round's time on, and the verifier refuses a record with one."""
    await b.city()
    plan_id = await b.plan_with_observers()
    assert (await b.commit(plan_id, {"beacon": {"chain_hash": CHAIN, "round": ROUND}})).status_code == 200
    (first, (value_1, salt_1)), (second, (value_2, salt_2)) = sorted(b.secrets.items())

    b.now = ROUND_TIME - timedelta(seconds=1)  # the last second before the round
    r = await b.client.post(
        f"/v1/plans/{plan_id}/observers/{first}/reveal", json={"value": value_1, "salt": salt_1}, headers=SUPERVISOR
    )
    assert r.status_code == 200, r.text
    b.now = ROUND_TIME
    late = await b.client.post(
        f"/v1/plans/{plan_id}/observers/{second}/reveal", json={"value": value_2, "salt": salt_2}, headers=SUPERVISOR
    )
    assert refusal(late) == (409, "reveal_after_beacon_round", "value")
    assert "不再接受揭示" in late.json()["error"]["message"]

    # the round's time is before the end of the grace period, yet nobody can reveal any more: withheld
    assert ROUND_TIME < T0 + 2 * DAY
    drawn = await b.draw(plan_id, {"beacon_signature": SIGNATURE})
    assert drawn.status_code == 200, drawn.text
    record = drawn.json()
    status = {o["id"]: o["status"] for o in record["witness"]["observers"]}
    assert status == {first: "revealed", second: "withheld"}
    checked = verify(record)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # the same draw as if the second observer's reveal had been taken: consistent in every field but time
    verifier = load_verifier()

    def with_second_revealed(at: datetime) -> dict[str, Any]:
        copy = json.loads(json.dumps(record))
        n = next(n for n, o in enumerate(copy["witness"]["observers"]) if o["id"] == second)
        copy["witness"]["observers"][n].update(
            status="revealed", value=value_2, salt=salt_2, revealed_at=at.isoformat().replace("+00:00", "Z")
        )
        digest = draw.witness_digest([{"id": first, "value": value_1}, {"id": second, "value": value_2}])
        copy["witness"]["witness_digest"] = digest
        copy["draw_seed"] = draw.draw_seed_v3(copy["server_seed"], digest, RANDOMNESS)
        copy["result"] = verifier.recompute_result(
            copy["draw_seed"], copy["institutions"], copy["inspectors"], copy["parameters"], copy["algorithm"]
        )
        return copy

    assert verifier.verify(with_second_revealed(ROUND_TIME - timedelta(seconds=1))) is None
    n = next(n for n, o in enumerate(record["witness"]["observers"]) if o["id"] == second)
    assert verify(with_second_revealed(ROUND_TIME)).stdout.strip() == f"MISMATCH: witness.observers[{n}].revealed_at"


def verify_against_commit(record: dict[str, Any], committed: dict[str, Any], tmp_path: Path) -> str:
    """tools/verify_draw.py --commit, as a third party who kept the plan published at its commit."""
    (tmp_path / "plan.json").write_text(json.dumps(committed), encoding="utf-8")
    (tmp_path / "draw.json").write_text(json.dumps(record), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(VERIFIER), "--commit", str(tmp_path / "plan.json"), str(tmp_path / "draw.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout.strip()


async def test_the_verifier_holds_a_record_to_what_the_commit_published(b: Beaconed, tmp_path: Path) -> None:
    """A record whose beacon round was removed and its seed recomputed is consistent in itself; only the
    plan as published at the commit shows that a round was fixed there."""
    await b.city()
    plan_id = await b.plan_with_observers()
    assert (await b.commit(plan_id, {"beacon": {"chain_hash": CHAIN, "round": ROUND}})).status_code == 200
    committed = (await b.client.get(f"/v1/public/plans/{plan_id}")).json()  # kept by a third party
    b.now = T0 + DAY
    await b.reveal_all(plan_id)
    b.now = ROUND_TIME
    assert (await b.draw(plan_id, {"beacon_signature": SIGNATURE})).status_code == 200
    record = (await b.client.get(f"/v1/public/plans/{plan_id}/draw")).json()
    assert verify_against_commit(record, committed, tmp_path).startswith("OK: ")

    verifier = load_verifier()
    stripped = json.loads(json.dumps(record))
    stripped["witness"]["beacon"] = None
    stripped["draw_seed"] = draw.draw_seed_v3(stripped["server_seed"], stripped["witness"]["witness_digest"])
    stripped["result"] = verifier.recompute_result(
        stripped["draw_seed"],
        stripped["institutions"],
        stripped["inspectors"],
        stripped["parameters"],
        draw.ALGORITHM_V3,
    )
    assert verifier.verify(stripped) is None, "alone, the stripped record is self-consistent"
    assert verify_against_commit(stripped, committed, tmp_path) == "MISMATCH: witness.beacon"

    def changed(part: str, **fields: Any) -> str:
        copy = json.loads(json.dumps(record))
        target = copy["witness"] if part == "witness" else copy["witness"][part]
        target.update(fields)
        return verify_against_commit(copy, committed, tmp_path)

    assert changed("beacon", round=ROUND + 1, round_time="2023-09-15T11:00:06Z") == "MISMATCH: witness.beacon.round"
    assert changed("witness", reveal_not_before="2023-09-15T08:00:00Z") == "MISMATCH: witness.reveal_not_before"
    assert changed("witness", withheld_after="2023-09-15T11:00:00Z") == "MISMATCH: witness.withheld_after"
    other_commitment = json.loads(json.dumps(committed))
    other_commitment["witness"]["observers"][0]["commitment"] = "00" * 32
    assert verify_against_commit(record, other_commitment, tmp_path) == "MISMATCH: witness.observers[0].commitment"


async def test_a_plan_without_a_beacon_draws_as_before_and_takes_no_signature(b: Beaconed) -> None:
    await b.city()
    plan_id = await b.plan_with_observers()
    assert (await b.commit(plan_id, None)).status_code == 200
    b.now = T0 + DAY
    await b.reveal_all(plan_id)
    unasked = await b.draw(plan_id, {"beacon_signature": SIGNATURE})
    assert refusal(unasked) == (422, "beacon_signature_not_accepted", "beacon_signature")
    drawn = await b.draw(plan_id, {})
    assert drawn.status_code == 200, drawn.text
    record = drawn.json()
    assert record["witness"]["beacon"] is None
    assert record["draw_seed"] == draw.draw_seed_v3(record["server_seed"], record["witness"]["witness_digest"])
    assert verify(record).returncode == 0


def test_a_mistyped_beacon_key_stops_the_service_at_start() -> None:
    """The service refuses to start with a beacon key that is no G2 point, instead of failing the
    first draw with a server error; the published quicknet key starts."""
    import pydantic

    from services.inspection.settings import InspectionSettings

    flipped = beacon.QUICKNET.public_key[:-1] + ("0" if beacon.QUICKNET.public_key[-1] != "0" else "1")
    with pytest.raises(pydantic.ValidationError, match="beacon public key is not usable"):
        InspectionSettings(draw_beacon_public_key=flipped)
    assert InspectionSettings().draw_beacon_public_key == beacon.QUICKNET.public_key


def test_the_beacon_times_are_bounded_in_the_settings() -> None:
    """A period or genesis beyond any real chain's would put round times past any date."""
    import pydantic

    from services.inspection.settings import InspectionSettings

    with pytest.raises(pydantic.ValidationError, match="draw_beacon_period_seconds"):
        InspectionSettings(draw_beacon_period_seconds=3601)
    with pytest.raises(pydantic.ValidationError, match="draw_beacon_genesis_time"):
        InspectionSettings(draw_beacon_genesis_time=4102444801)
    assert InspectionSettings(draw_beacon_period_seconds=3600).draw_beacon_period_seconds == 3600
