"""Leaf version 2 (every field committed on its own, docs/ledger.md) and witness cosignatures, through
the HTTP API against real PostgreSQL (each test rolled back): an agency recomputes the leaves it may
see from its filtered view alone and checks them, two historic checkpoints and a checkpoint cosigned
by two witnesses with Go's golang.org/x/mod/sumdb/tlog and note (tests/reporting/gocheck)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from services.reporting.ledger import leaves, merkle
from services.reporting.ledger.cosign import WitnessSigner, note_text
from services.reporting.ledger.notes import Signer
from shared.db import Database
from shared.events import CloudEvent
from shared.events.inspection import PlanCommittedV2, PlanDrawnV2, WitnessObserver, WitnessReveal
from tests.reporting.support import T0, envelope, run_gocheck
from tests.reporting.test_ledger import FILED, MARKET, OPS, POLICE, VIOLATION, Ledger, served
from tests.support import settings_for, token

MARKET_WITNESS = WitnessSigner("witness.samr.gz.gov.cn/ledger", bytes(range(100, 132)))
POLICE_WITNESS = WitnessSigner("witness.gaj.gz.gov.cn/ledger", bytes(range(150, 182)))
HEALTH = token("agency:health_commission")
PLAN_COMMITTED = "cn.gov.gz.childcare.inspection.plan.committed.v2"
PLAN_DRAWN = "cn.gov.gz.childcare.inspection.plan.drawn.v2"
UNREGISTERED_WITNESS = WitnessSigner("witness.example/other", bytes(range(200, 232)))
WITNESS_KEYS = {
    "market_regulation": [MARKET_WITNESS.verifier.vkey],
    "public_security": [POLICE_WITNESS.verifier.vkey],
}


@pytest.fixture
async def witnessed(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[Ledger]:
    async with served(await rollback_db("reporting"), ledger_witness_keys=WITNESS_KEYS) as ledger:
        yield ledger


def salt_key() -> bytes:
    return leaves.salt_key(settings_for("reporting").pii_hmac_secret)


async def agency_view(ledger: Ledger, headers: dict[str, str], size: int) -> list[dict[str, Any]]:
    """Every entry the agency may see below ``size``, each with its inclusion proof at ``size``."""
    page = await ledger.get("/v1/ledger?after=-1&limit=1000", headers=headers)
    checks = []
    for entry in page["entries"]:
        if entry["index"] >= size:
            continue
        proof = await ledger.get(f"/v1/ledger/proof/inclusion?index={entry['index']}&size={size}", headers=headers)
        assert proof["leaf"] is None, "an agency never gets the leaf bytes; it recomputes them"
        assert proof["leaf_hash"] == entry["leaf_hash"]
        checks.append({"entry": entry, "proof": proof["proof"]})
    return checks


async def test_an_agency_recomputes_leaves_checks_history_and_cosigned_checkpoints_with_go(
    witnessed: Ledger,
) -> None:
    ledger = witnessed
    events = await ledger.stories(0, 4)  # 24 entries
    old = await ledger.checkpoint()
    events += await ledger.stories(4, 4)  # 48 entries
    new = await ledger.checkpoint()
    assert (old["tree_size"], new["tree_size"]) == (24, 48)
    assert new["cosignatures"] == []

    # The market regulator's view: 3 of the 6 types of each story, only its granted fields.
    leaves_seen = await agency_view(ledger, MARKET, 48)
    assert len(leaves_seen) == 24
    for check in leaves_seen:
        entry = check["entry"]
        assert entry["leaf_version"] == 2
        fields = leaves.field_values(entry["data"])
        assert set(entry["disclosures"]) == set(fields), "exactly the fields it sees are disclosed"
        assert not set(entry["disclosures"]) & set(entry["undisclosed_digests"])
    violation = next(c["entry"] for c in leaves_seen if c["entry"]["event_type"] == VIOLATION)
    source = next(e for e in events if e.id == violation["event_id"])
    assert "person_ref" in violation["undisclosed_digests"]
    assert "person_ref" not in violation["data"]
    # Neither the hidden value nor its salt is anywhere in what the agency received: the digest
    # cannot be searched by guessing person references.
    hidden_salt = leaves.field_salt(salt_key(), source.source, source.id, "person_ref")
    received = json.dumps(await ledger.get("/v1/ledger?after=-1&limit=1000", headers=MARKET))
    assert source.data["person_ref"] not in received
    assert hidden_salt not in received
    assert len(base64.b64decode(hidden_salt)) * 8 >= 128

    # ops see every field disclosed, nothing undisclosed, and the same leaf hashes.
    everything = {e["index"]: e for e in (await ledger.get("/v1/ledger?after=-1&limit=1000"))["entries"]}
    for check in leaves_seen:
        full = everything[check["entry"]["index"]]
        assert full["leaf_hash"] == check["entry"]["leaf_hash"]
        assert full["undisclosed_digests"] == {}
        assert set(full["disclosures"]) == set(leaves.field_values(full["data"]))

    # Two historic checkpoints fetched by size and the consistency proof between them.
    notes = {s: (await ledger.client.get(f"/v1/ledger/checkpoints/{s}?format=note")).text for s in (24, 48)}
    consistency = await ledger.get("/v1/ledger/proof/consistency?from=24&to=48", headers=MARKET)
    history = [{"old": notes[24], "new": notes[48], "proof": consistency["proof"]}]
    vkey = (await ledger.client.get("/.well-known/ledger-verifier-key")).text.splitlines()[0]
    payload = {"vkey": vkey, "checkpoint": notes[48], "history": history, "leaves": leaves_seen}
    status, report = run_gocheck(payload)
    assert status == 0, report
    assert [r["check"] for r in report["results"] if r["ok"]] == [
        "verifier_key",
        "checkpoint",
        "history[0]",
        *[f"leaf[{i}]" for i in range(24)],
    ]

    # Both agencies, having verified consistency, cosign the newer checkpoint with their witness keys.
    text = note_text(notes[48])
    now = int(time.time())
    for headers, witness in ((MARKET, MARKET_WITNESS), (POLICE, POLICE_WITNESS)):
        response = await ledger.client.post(
            "/v1/ledger/checkpoints/48/cosignatures", headers=headers, json={"signature": witness.cosign(text, now)}
        )
        assert response.status_code == 201, response.text
    served_cp = await ledger.get("/v1/ledger/checkpoints/48", headers={})
    assert [(c["key_name"], c["agency"], c["timestamp"]) for c in served_cp["cosignatures"]] == [
        (POLICE_WITNESS.name, "public_security", now),  # ordered by witness name
        (MARKET_WITNESS.name, "market_regulation", now),
    ]
    cosigned = (await ledger.client.get("/v1/ledger/checkpoints/48?format=note")).text
    assert cosigned == served_cp["note"]
    assert cosigned.startswith(notes[48]), "the log's signed note, byte for byte, then the cosignatures"
    assert (await ledger.checkpoint())["note"] == cosigned, "the latest checkpoint is served cosigned too"
    assert (await ledger.client.get("/v1/ledger/checkpoints/24?format=note")).text == notes[24]

    witnesses = [MARKET_WITNESS.verifier.vkey, POLICE_WITNESS.verifier.vkey]
    status, report = run_gocheck({**payload, "checkpoint": cosigned, "witness_vkeys": witnesses, "cosigned": cosigned})
    assert status == 0, report
    assert report["results"][-1] == {"check": "cosigned", "ok": True}
    assert report["cosigners"] == ["gz.childcare.ledger", POLICE_WITNESS.name, MARKET_WITNESS.name]

    # Go refuses what does not hold: a witness that did not cosign; a cosignature altered.
    absent = [*witnesses, UNREGISTERED_WITNESS.verifier.vkey]
    status, report = run_gocheck({**payload, "witness_vkeys": absent, "cosigned": cosigned})
    assert (status, report["results"][-1]["check"], report["results"][-1]["ok"]) == (1, "cosigned", False)
    market_line = served_cp["cosignatures"][1]["signature"]
    raw = base64.b64decode(market_line.rsplit(" ", 1)[1])
    redated = raw[:4] + (now + 1).to_bytes(8, "big") + raw[12:]  # the signature of another time
    forged_line = f"{market_line.rsplit(' ', 1)[0]} {base64.b64encode(redated).decode()}"
    forged = cosigned.replace(market_line, forged_line)
    assert forged != cosigned
    status, report = run_gocheck({**payload, "witness_vkeys": witnesses, "cosigned": forged})
    assert (status, report["results"][-1]["ok"]) == (1, False)

    # ... and leaves that are not what the log committed to: a disclosed value changed in the
    # view, a disclosure swapped for another entry's, a hidden digest changed.
    first, second = leaves_seen[0], leaves_seen[3]  # two filed events
    assert first["entry"]["event_type"] == second["entry"]["event_type"] == FILED
    changed = json.loads(json.dumps(first))
    changed["entry"]["data"]["profile"]["name"] = "另一家托育中心"
    swapped = json.loads(json.dumps(first))
    swapped["entry"]["disclosures"]["profile.name"] = second["entry"]["disclosures"]["profile.name"]
    swapped["entry"]["data"]["profile"]["name"] = second["entry"]["data"]["profile"]["name"]
    digest = json.loads(json.dumps(first))
    hidden = sorted(digest["entry"]["undisclosed_digests"])[0]
    digest["entry"]["undisclosed_digests"][hidden] = base64.b64encode(bytes(32)).decode()
    status, report = run_gocheck({**payload, "leaves": [changed, swapped, digest, first]})
    assert status == 1
    assert [r["ok"] for r in report["results"][3:]] == [False, False, False, True]


async def test_cosignatures_only_from_registered_witnesses_and_only_if_they_verify(witnessed: Ledger) -> None:
    ledger = witnessed
    await ledger.stories(0, 1)
    six = await ledger.checkpoint()
    await ledger.stories(1, 1)
    await ledger.checkpoint()
    text = note_text(six["note"])
    now = int(time.time())

    async def submit(headers: dict[str, str], line: str, size: int = 6, status: int = 422) -> dict[str, Any]:
        response = await ledger.client.post(
            f"/v1/ledger/checkpoints/{size}/cosignatures", headers=headers, json={"signature": line}
        )
        assert response.status_code == status, response.text
        return dict(response.json())

    # another agency's witness key, an unregistered key, an anonymous caller, a non-agency role
    error = (await submit(POLICE, MARKET_WITNESS.cosign(text, now), status=403))["error"]
    assert error["code"] == "witness_key_unknown"
    error = (await submit(MARKET, UNREGISTERED_WITNESS.cosign(text, now), status=403))["error"]
    assert error["code"] == "witness_key_unknown"
    await submit({}, MARKET_WITNESS.cosign(text, now), status=401)
    await submit(OPS, MARKET_WITNESS.cosign(text, now), status=403)
    await submit(token("agency:tourism"), MARKET_WITNESS.cosign(text, now), status=403)
    # signed over another checkpoint, dated in the future, not a cosignature line, a log-style
    # (type 0x01) signature
    twelve = note_text((await ledger.get("/v1/ledger/checkpoints/12", headers={}))["note"])
    for line in (
        MARKET_WITNESS.cosign(twelve, now),
        MARKET_WITNESS.cosign(text, now + 3600),
        "not a signature line",
        Signer.from_seed(MARKET_WITNESS.name, bytes(32)).sign(text).splitlines()[-1],
    ):
        error = (await submit(MARKET, line))["error"]
        assert (error["code"], error["field"]) == ("cosignature_invalid", "signature"), line
    error = (await submit(MARKET, MARKET_WITNESS.cosign(text, now), size=7, status=404))["error"]
    assert error["code"] == "checkpoint_not_found"
    assert (await ledger.get("/v1/ledger/checkpoints/6", headers={}))["cosignatures"] == []

    # accepted once; the same witness again keeps the first (evidence is not rewritten)
    first = await submit(MARKET, MARKET_WITNESS.cosign(text, now), status=201)
    again = await submit(MARKET, MARKET_WITNESS.cosign(text, now + 1), status=200)
    assert first == again
    assert [c["timestamp"] for c in first["cosignatures"]] == [now]
    listed = (await ledger.get("/v1/ledger/checkpoints", headers={}))["checkpoints"]
    assert [len(c["cosignatures"]) for c in listed] == [1, 0]
    assert (await ledger.get("/v1/ledger/verify"))["ok"], "cosignatures leave the log's checkpoints intact"


async def test_version_1_entries_stay_valid_after_version_2(rollback_db: Callable[[str], Awaitable[Database]]) -> None:
    """A deployment that switches to version 2 keeps its version-1 entries as they are: both verify,
    in one tree, and version-1 entries still carry the data in their leaf."""
    db = await rollback_db("reporting")
    async with served(db, ledger_leaf_version=1) as ledger:
        await ledger.stories(0, 1)
        before = await ledger.checkpoint()
    async with served(db) as ledger:
        events = await ledger.stories(1, 1)
        after = await ledger.checkpoint()
        assert (before["tree_size"], after["tree_size"]) == (6, 12)
        report = await ledger.get("/v1/ledger/verify")
        assert report["ok"], report
        entries = (await ledger.get("/v1/ledger?after=-1&limit=100"))["entries"]
        assert [e["leaf_version"] for e in entries] == [1] * 6 + [2] * 6
        assert all(e["disclosures"] is None and e["undisclosed_digests"] is None for e in entries[:6])
        v1 = await ledger.get("/v1/ledger/proof/inclusion?index=1&size=12")
        assert json.loads(base64.b64decode(v1["leaf"]))["data"] == entries[1]["data"]
        v2 = await ledger.get("/v1/ledger/proof/inclusion?index=7&size=12")
        leaf = json.loads(base64.b64decode(v2["leaf"]))
        assert set(leaf) == {"v", "id", "source", "type", "subject", "time", "fields"}
        assert leaf["v"] == 2
        assert set(leaf["fields"]) == set(leaves.field_values(events[1].data))
        consistency = await ledger.get("/v1/ledger/proof/consistency?from=6&to=12")
        police = await agency_view(ledger, POLICE, 12)
        status, report = run_gocheck(
            {
                "vkey": (await ledger.client.get("/.well-known/ledger-verifier-key")).text.splitlines()[0],
                "checkpoint": after["note"],
                "old_checkpoint": before["note"],
                "consistency": consistency["proof"],
                "inclusion": [{"index": 1, "record": v1["leaf"], "proof": v1["proof"]}],
                "leaves": [c for c in police if c["entry"]["leaf_version"] == 2],
            }
        )
        assert status == 0, report
        assert len([r for r in report["results"] if r["check"].startswith("leaf[")]) == 3


async def test_stored_fields_that_no_longer_match_their_digests_are_reported(
    rollback_db: Callable[..., Awaitable[Database]],
) -> None:
    async with served(await rollback_db("reporting", superuser=True)) as ledger:
        await ledger.stories(0, 1)
        await ledger.checkpoint()
        assert (await ledger.get("/v1/ledger/verify"))["ok"]
        # an intruder rewrites the kept data of an entry (the leaf holds only digests)
        await ledger.sql(
            "UPDATE ledger_entry SET data = convert_to(replace(convert_from(data, 'UTF8'), '张三', '李四'), 'UTF8')"
            " WHERE index = 2"
        )
        report = await ledger.get("/v1/ledger/verify")
        assert not report["ok"]
        assert [(p["code"], p["index"]) for p in report["problems"]] == [("leaf_fields_mismatch", 2)]


def test_leaf_v2_bytes_are_as_documented() -> None:
    """The vector docs/ledger.md prints: a fixed event, salt key and the exact leaf bytes."""
    event = CloudEvent(
        id="0190c8a0-0000-7000-8000-000000000001",
        source="/services/inspection",
        type="cn.gov.gz.childcare.inspection.violation.confirmed.v1",
        subject="00000000-0000-0000-0000-000000001000",
        time="2025-03-01T09:30:00.120000+08:00",
        data={"code": "SAFE-01", "severity": "serious", "profile": {"name": "小树苗", "total_slots": 35}, "n": None},
    )
    fmt = leaves.LeafFormat(version=2, salt_key=hashlib.sha256(b"example salt key").digest())
    made = fmt.leaf(event)
    salts = json.loads(made.salts or b"")
    assert sorted(salts) == ["code", "n", "profile.name", "profile.total_slots", "severity"]
    name = leaves.disclosure(salts["profile.name"], "profile.name", "小树苗")
    assert name == f'["{salts["profile.name"]}","profile.name","小树苗"]'.encode()
    document = json.loads(made.leaf)
    assert document["fields"]["profile.name"] == base64.b64encode(hashlib.sha256(name).digest()).decode()
    assert document["time"] == "2025-03-01T01:30:00.120000Z"
    assert salts["profile.name"] == "zA1/UOxitP8lqS39xUB/fw=="
    assert made.leaf == (
        b'{"fields":{"code":"WdkEGkgj//lOHWxLWYdW42VMzA/Yvwn2m335TnYkNkY=",'
        b'"n":"LjWBbm11ZdATFwi1exNPTKC/kVtQXfhitun1DrBrsEQ=",'
        b'"profile.name":"XR6O7AvvBdQDCYtt8LXFUMpCBQYVs5XqxzBcnHdWxKU=",'
        b'"profile.total_slots":"AZOwN6MCWPNjEeJXa8rc92Bt5qIUWPuAfiw0Z2jHTes=",'
        b'"severity":"2DnmadQ6Trj/jQR7scObUq/6XYxBl85nVVTeuWo4gjQ="},'
        b'"id":"0190c8a0-0000-7000-8000-000000000001","source":"/services/inspection",'
        b'"subject":"00000000-0000-0000-0000-000000001000","time":"2025-03-01T01:30:00.120000Z",'
        b'"type":"cn.gov.gz.childcare.inspection.violation.confirmed.v1","v":2}'
    )
    assert base64.b64encode(merkle.leaf_hash(made.leaf)).decode() == "xoCzJV2NBcNeCNVznXkvslSASGjLJVzKRP+zSSZdbIg="
    assert fmt.leaf(event) == made, "the same event, the same salts and leaf (a rebuild reproduces it)"
    other = fmt.leaf(CloudEvent(**{**event.model_dump(), "id": "0190c8a0-0000-7000-8000-000000000002"}))
    assert not set(json.loads(other.salts or b"").values()) & set(salts.values()), "salts differ per event"
    assert len(set(salts.values())) == len(salts), "and per field"


def plan_events(n: int = 0) -> list[CloudEvent]:
    """A v3 plan's commitment and draw record, as inspection publishes them (no selection, no one named)."""
    plan_id = uuid.UUID(int=0x5000 + n)
    observer = uuid.UUID(int=0x6000 + n)
    at = T0 + timedelta(days=n)
    committed = PlanCommittedV2(
        plan_id=plan_id,
        algorithm="gz-childcare-draw/v3",
        commitment=hashlib.sha256(b"seed").hexdigest(),
        institutions_hash=hashlib.sha256(b"institutions").hexdigest(),
        inspectors_hash=hashlib.sha256(b"inspectors").hexdigest(),
        institution_count=40,
        inspector_count=6,
        observers=[
            WitnessObserver(
                observer_id=observer,
                organisation="广州市公证处",
                commitment=hashlib.sha256(b"value" + b"salt").hexdigest(),
                registered_at=at,
            )
        ],
        reveal_not_before=at + timedelta(hours=24),
        withheld_after=at + timedelta(hours=72),
        committed_at=at,
    )
    drawn = PlanDrawnV2(
        plan_id=plan_id,
        server_seed="73" * 32,
        reveals=[WitnessReveal(observer_id=observer, value="公证处见证值", salt="ab" * 32, revealed_at=at)],
        witness_digest="cd" * 32,
        draw_seed="ef" * 32,
        selected_count=4,
        drawn_at=at + timedelta(hours=25),
    )
    return [envelope(committed, str(plan_id), at=at), envelope(drawn, str(plan_id), at=at + timedelta(hours=25))]


async def test_plan_events_reach_agencies_by_grant_and_are_recomputable(witnessed: Ledger) -> None:
    """The plan's commitment and draw record are anchored in the ledger the agencies verify: the
    market regulator and the health commission read them whole (their grants), the police not at
    all; the market regulator recomputes both leaves from its view and checks their inclusion."""
    ledger = witnessed
    await ledger.stories(0, 1)
    plans = plan_events(0)
    await ledger.append(plans)
    checkpoint = await ledger.checkpoint()
    assert checkpoint["tree_size"] == 8
    plan_types = {PLAN_COMMITTED, PLAN_DRAWN}

    for headers in (MARKET, HEALTH):
        entries = (await ledger.get("/v1/ledger?after=-1&limit=100", headers=headers))["entries"]
        shown = [e for e in entries if e["event_type"] in plan_types]
        assert [e["index"] for e in shown] == [6, 7]
        assert [e["data"] for e in shown] == [json.loads(p.to_json())["data"] for p in plans]
        assert all(e["undisclosed_digests"] == {} for e in shown), "granted whole"
    police = (await ledger.get("/v1/ledger?after=-1&limit=100", headers=POLICE))["entries"]
    assert not [e for e in police if e["event_type"] in plan_types]
    committed = next(e for e in await agency_view(ledger, MARKET, 8) if e["entry"]["event_type"] == PLAN_COMMITTED)
    assert committed["entry"]["data"]["commitment"] == plans[0].data["commitment"]

    market = [c for c in await agency_view(ledger, MARKET, 8) if c["entry"]["event_type"] in plan_types]
    vkey = (await ledger.client.get("/.well-known/ledger-verifier-key")).text.splitlines()[0]
    status, report = run_gocheck({"vkey": vkey, "checkpoint": checkpoint["note"], "leaves": market})
    assert status == 0, report
    assert [r["check"] for r in report["results"]] == ["verifier_key", "checkpoint", "leaf[0]", "leaf[1]"]
    # the draw record as another seed would have it does not verify
    forged = json.loads(json.dumps(market[1]))
    forged["entry"]["data"]["draw_seed"] = "00" * 32
    status, _ = run_gocheck({"vkey": vkey, "checkpoint": checkpoint["note"], "leaves": [forged]})
    assert status == 1


def test_a_rebuild_reproduces_each_entry_in_the_version_the_ledger_topic_recorded() -> None:
    """services/reporting/rebuild.py picks, per recorded entry, the leaf version whose hash the
    ledger topic holds: a version-1 entry is rebuilt as version 1 under a version-2 deployment."""
    fmt = leaves.LeafFormat(version=2, salt_key=salt_key())
    event = plan_events(0)[0]
    v1 = merkle.leaf_hash(leaves.leaf_v1(event))
    v2 = merkle.leaf_hash(fmt.leaf(event).leaf)
    assert v1 != v2
    assert (fmt.version_matching(event, v1), fmt.version_matching(event, v2)) == (1, 2)
    assert fmt.version_matching(event, None) is None, "not recorded: this deployment's version"
    assert fmt.version_matching(event, bytes(32)) is None
    other_key = leaves.LeafFormat(version=2, salt_key=bytes(32))
    assert other_key.version_matching(event, v2) is None, "another salt key cannot reproduce the leaf"


def test_witness_keys_are_checked_when_the_service_starts() -> None:
    """Only Ed25519 cosignature/v1 verifier keys (type 0x04) whose id matches may be registered; a
    log-style note key (type 0x01) or a mangled key stops the service with the setting's name."""
    good = MARKET_WITNESS.verifier.vkey
    assert settings_for("reporting", ledger_witness_keys={"market_regulation": [good]})
    note_key = Signer.from_seed(MARKET_WITNESS.name, bytes(range(100, 132))).verifier.vkey
    wrong_id = f"{MARKET_WITNESS.name}+00000000+{good.rsplit('+', 1)[1]}"
    named = r"REPORTING_LEDGER_WITNESS_KEYS\[market_regulation\] \(ledger_witness_keys\) key 0: "
    for bad in (note_key, wrong_id, "not-a-key"):
        with pytest.raises(ValueError, match=named):
            settings_for("reporting", ledger_witness_keys={"market_regulation": [bad]})
