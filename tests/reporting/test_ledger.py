"""The Merkle ledger through its HTTP API, against real PostgreSQL (each test rolled back): signed
checkpoints and proofs verified by Go's sumdb/note and sumdb/tlog, tampering detected, parameter
errors, and what each agency may see."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.reporting.consumers import consumers
from services.reporting.ledger import merkle
from services.reporting.ledger.jcs import canonicalize
from services.reporting.ledger.notes import Signer
from shared.db import Database
from shared.events import CloudEvent, PoisonEvent, decode
from shared.events.reporting import LedgerEntrySharedV2
from shared.outbox import outbox_table
from tests.reporting.support import entry_shared_v1, institution_story, run_gocheck
from tests.support import create_app, running, settings_for, token

OPS = token("ops")
MARKET = token("agency:market_regulation")
POLICE = token("agency:public_security")
NO_GRANT = token("agency:tourism")
FILED = "cn.gov.gz.childcare.filing.institution.filed.v1"
BANNED = "cn.gov.gz.childcare.credit.person.banned.v1"
VIOLATION = "cn.gov.gz.childcare.inspection.violation.confirmed.v1"


class Ledger:
    def __init__(self, client: httpx.AsyncClient, db: Database, handlers: Mapping[str, Any]) -> None:
        self.client = client
        self.db = db
        self.handlers = handlers  # the reporting consumer's, by event type

    async def append(self, events: list[CloudEvent]) -> None:
        for event in events:
            async with self.db.transaction() as session:
                await self.handlers[event.type](session, decode(event.to_json().encode()))

    async def stories(self, first: int, count: int) -> list[CloudEvent]:
        events = [e for n in range(first, first + count) for e in institution_story(n)]
        await self.append(events)
        return events

    async def get(self, path: str, headers: dict[str, str] = OPS, status: int = 200) -> Any:
        response = await self.client.get(path, headers=headers)
        assert response.status_code == status, response.text
        return response.json()

    async def checkpoint(self) -> dict[str, Any]:
        return dict(await self.get("/v1/ledger/checkpoint"))

    async def sql(self, statement: str, **params: Any) -> None:
        async with self.db.transaction() as session:
            await session.execute(text(statement), params)


@asynccontextmanager
async def served(db: Database, **overrides: Any) -> AsyncIterator[Ledger]:
    app = create_app("reporting", settings_for("reporting", run_background_workers=False, **overrides), db)
    async with running(app) as client:
        spec = consumers(app.state.context)[0]
        assert spec.name == "reporting"
        yield Ledger(client, db, spec.handlers)


@pytest.fixture
async def ledger(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[Ledger]:
    async with served(await rollback_db("reporting")) as ledger:
        yield ledger


@pytest.fixture
async def ledger_v1(rollback_db: Callable[[str], Awaitable[Database]]) -> AsyncIterator[Ledger]:
    """As ``ledger``, appending version-1 leaves (the canonical JSON of the whole event), as every
    entry appended before version 2 is (tests/reporting/test_ledger_fields.py tests version 2)."""
    async with served(await rollback_db("reporting"), ledger_leaf_version=1) as ledger:
        yield ledger


@pytest.fixture
async def intruded_ledger(rollback_db: Callable[..., Awaitable[Database]]) -> AsyncIterator[Ledger]:
    """As ``ledger``, but connected as the superuser: ``sql`` plays an intruder with direct access to
    the database, who may rewrite what the service's own role may not (test_database_roles)."""
    async with served(await rollback_db("reporting", superuser=True)) as ledger:
        yield ledger


@pytest.fixture
async def intruded_ledger_v1(rollback_db: Callable[..., Awaitable[Database]]) -> AsyncIterator[Ledger]:
    """As ``intruded_ledger``, with version-1 leaves (whose bytes hold the event's data)."""
    async with served(await rollback_db("reporting", superuser=True), ledger_leaf_version=1) as ledger:
        yield ledger


async def test_checkpoints_and_proofs_verify_with_go_sumdb(ledger_v1: Ledger) -> None:
    ledger = ledger_v1
    key = await ledger.get("/v1/ledger/public-key", headers={})
    assert key["origin"] == key["key_name"] == "gz.childcare.ledger"
    empty = await ledger.checkpoint()
    assert (empty["tree_size"], empty["root_hash"]) == (0, base64.b64encode(merkle.EMPTY_ROOT).decode())

    events = await ledger.stories(0, 2)  # 12 entries
    old = await ledger.checkpoint()
    events += await ledger.stories(2, 2)  # 24 entries
    new = await ledger.checkpoint()
    assert (old["tree_size"], new["tree_size"]) == (12, 24)
    assert new["note"].startswith(f"gz.childcare.ledger\n24\n{new['root_hash']}\n\n\u2014 gz.childcare.ledger ")
    note = await ledger.client.get("/v1/ledger/checkpoint?format=note")
    assert note.text == new["note"], "the same checkpoint, not re-signed"

    inclusions = []
    for index in (0, 5, 11, 12, 23):
        proof = await ledger.get(f"/v1/ledger/proof/inclusion?index={index}&size=24")
        leaf = base64.b64decode(proof["leaf"])
        expected = {k: v for k, v in json.loads(events[index].to_json()).items() if k != "datacontenttype"}
        expected.pop("specversion")
        assert leaf == canonicalize(expected), "the leaf is the canonical JSON of the event"
        assert base64.b64decode(proof["leaf_hash"]) == merkle.leaf_hash(leaf)
        inclusions.append({"index": index, "record": proof["leaf"], "proof": proof["proof"]})
    consistency = await ledger.get("/v1/ledger/proof/consistency?from=12&to=24")
    assert (consistency["from"], consistency["to"]) == (12, 24)
    assert (consistency["from_root"], consistency["to_root"]) == (old["root_hash"], new["root_hash"])
    payload = {
        "vkey": key["verifier_key"],
        "checkpoint": new["note"],
        "old_checkpoint": old["note"],
        "inclusion": inclusions,
        "consistency": consistency["proof"],
    }
    status, report = run_gocheck(payload)
    assert status == 0, report
    assert (report["size"], report["old_size"], report["root"]) == (24, 12, new["root_hash"])
    assert [r["check"] for r in report["results"] if r["ok"]] == [
        "verifier_key",
        "checkpoint",
        *[f"inclusion[{i}]" for i in range(5)],
        "old_checkpoint",
        "consistency",
    ]
    # From the empty tree every later tree is consistent (CheckTree needs n >= 1, handled aside).
    status, _ = run_gocheck({**payload, "old_checkpoint": empty["note"], "consistency": []})
    assert status == 0

    # Go rejects what does not hold: a wrong record, a proof for another index, a flipped proof
    # hash, a consistency proof against the wrong old tree, a checkpoint signed by another key.
    wrong = dict(inclusions[1], record=inclusions[2]["record"])
    moved = dict(inclusions[1], index=6)
    flipped = dict(inclusions[1], proof=[base64.b64encode(b"\x00" * 32).decode(), *inclusions[1]["proof"][1:]])
    status, report = run_gocheck({**payload, "inclusion": [wrong, moved, flipped]})
    assert status == 1
    assert [r["ok"] for r in report["results"][2:5]] == [False, False, False]
    other = await ledger.get("/v1/ledger/proof/consistency?from=13&to=24")
    status, report = run_gocheck({**payload, "consistency": other["proof"]})
    assert (status, report["results"][-1]["check"], report["results"][-1]["ok"]) == (1, "consistency", False)
    forged = Signer.from_seed("gz.childcare.ledger", bytes(32)).sign(new["note"].split("\n\n")[0] + "\n")
    status, report = run_gocheck({**payload, "checkpoint": forged})
    assert (status, report["results"][1]["ok"]) == (1, False)


async def test_proof_parameters_are_checked(ledger: Ledger) -> None:
    await ledger.stories(0, 1)  # 6 entries
    cases = [
        ("/v1/ledger/proof/inclusion?index=6&size=6", "index", "index_out_of_range"),
        ("/v1/ledger/proof/inclusion?index=0&size=7", "size", "size_beyond_tree"),
        ("/v1/ledger/proof/inclusion?index=-1&size=6", "index", "greater_than_equal"),
        ("/v1/ledger/proof/inclusion?index=0&size=0", "size", "greater_than_equal"),
        ("/v1/ledger/proof/inclusion?index=x&size=6", "index", "int_parsing"),
        ("/v1/ledger/proof/inclusion?size=6", "index", "missing"),
        ("/v1/ledger/proof/consistency?from=5&to=4", "from", "from_after_to"),
        ("/v1/ledger/proof/consistency?from=2&to=7", "to", "size_beyond_tree"),
        ("/v1/ledger/proof/consistency?from=0&to=6", "from", "greater_than_equal"),
        ("/v1/ledger?after=-2", "after", "invalid_cursor"),
        ("/v1/ledger/export?from=4&to=2", "from", "from_after_to"),
        ("/v1/ledger/export?from=0&to=7", "to", "size_beyond_tree"),
        ("/v1/ledger/export?format=xml", "format", "literal_error"),
        # beyond a PostgreSQL bigint: a clear 422 naming the field, never a database error
        ("/v1/ledger?after=1096237941834429103817621504", "after", "less_than_equal"),
        ("/v1/ledger/proof/inclusion?index=0&size=99999999999999999999", "size", "less_than_equal"),
    ]
    for path, field, code in cases:
        error = (await ledger.get(path, status=422))["error"]
        assert (error["field"], error["code"]) == (field, code), path
        assert error["message"], "a Chinese message for people"
    same = await ledger.get("/v1/ledger/proof/consistency?from=6&to=6")
    assert same["proof"] == []
    assert same["from_root"] == same["to_root"]
    await ledger.get("/v1/ledger/proof/inclusion?index=0&size=6", headers={}, status=401)
    await ledger.get("/v1/ledger/verify", headers=MARKET, status=403)


TAMPERING = {
    "altered": "UPDATE ledger_entry SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), '张三', '李四'), 'UTF8'),"
    " leaf_hash = sha256('\\x00'::bytea || convert_to(replace(convert_from(leaf, 'UTF8'), '张三', '李四'), 'UTF8'))"
    " WHERE index = 2",
    "deleted": "DELETE FROM ledger_entry WHERE index = 3",
    "reordered": "UPDATE ledger_entry SET index = 1000 WHERE index = 4; "
    "UPDATE ledger_entry SET index = 4 WHERE index = 5; UPDATE ledger_entry SET index = 5 WHERE index = 1000",
    "truncated": "DELETE FROM ledger_entry WHERE index >= 9; UPDATE ledger_head SET size = 9",
}
EXPECTED_PROBLEM = {
    "altered": "root_mismatch",
    "deleted": "entry_missing",
    "reordered": "root_mismatch",
    "truncated": "entries_missing",
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
async def test_tampering_with_stored_entries_is_detected(intruded_ledger_v1: Ledger, kind: str) -> None:
    ledger = intruded_ledger_v1
    await ledger.stories(0, 2)
    earlier = await ledger.checkpoint()
    await ledger.stories(2, 1)  # the log went on after the checkpoint an agency holds
    report = await ledger.get("/v1/ledger/verify")
    assert report["ok"], report
    assert report["entries_checked"] == report["tree_size"] == 18
    assert [c["tree_size"] for c in report["checkpoints"]] == [earlier["tree_size"]]

    for statement in TAMPERING[kind].split("; "):
        await ledger.sql(statement)
    report = await ledger.get("/v1/ledger/verify")
    assert not report["ok"]
    assert EXPECTED_PROBLEM[kind] in [p["code"] for p in report["problems"]], report["problems"]
    if kind == "truncated":  # the service refuses to sign a tree that does not extend what it signed
        error = (await ledger.get("/v1/ledger/checkpoint", status=409))["error"]
        assert error["code"] == "ledger_inconsistent"


async def test_altered_checkpoint_rows_are_detected(intruded_ledger: Ledger) -> None:
    ledger = intruded_ledger
    await ledger.stories(0, 1)
    await ledger.checkpoint()
    await ledger.sql("UPDATE ledger_checkpoint SET root_hash = sha256('x'::bytea)")
    report = await ledger.get("/v1/ledger/verify")
    assert not report["ok"]
    assert [p["code"] for p in report["problems"]] == ["checkpoint_row_altered"]
    await ledger.sql("UPDATE ledger_checkpoint SET note = replace(note, E'\\n6\\n', E'\\n7\\n')")
    report = await ledger.get("/v1/ledger/verify")
    assert "checkpoint_signature_invalid" in [p["code"] for p in report["problems"]]


async def test_each_agency_sees_exactly_its_grant(ledger: Ledger) -> None:
    events = await ledger.stories(0, 2)  # 12 entries, 6 types
    everything = await ledger.get("/v1/ledger?after=-1&limit=100")
    assert [e["index"] for e in everything["entries"]] == list(range(12))
    assert everything["entries"][1]["data"] == events[1].data, "ops see the whole event"

    market = await ledger.get("/v1/ledger?after=-1&limit=100", headers=MARKET)
    police = await ledger.get("/v1/ledger?after=-1&limit=100", headers=POLICE)
    assert market["next_cursor"] == police["next_cursor"] == 11, "cursors pass entries the agency may not see"
    market_types = {e["event_type"] for e in market["entries"]}
    police_types = {e["event_type"] for e in police["entries"]}
    assert market_types == {FILED, VIOLATION, "cn.gov.gz.childcare.credit.institution.graded.v1"}
    assert police_types == {FILED, VIOLATION, BANNED}
    filed_market = next(e for e in market["entries"] if e["event_type"] == FILED)
    filed_police = next(e for e in police["entries"] if e["event_type"] == FILED)
    assert filed_market["index"] == filed_police["index"] == 1
    assert set(filed_market["data"]) == {"institution_id", "decided_at", "profile"}
    assert set(filed_market["data"]["profile"]) == {
        "uscc", "name", "operating_model", "district_code", "street_code", "total_slots", "puhui_slots",
        "monthly_fee_yuan",
    }  # fmt: skip
    assert set(filed_police["data"]) == {"institution_id", "profile"}
    assert set(filed_police["data"]["profile"]) == {"name", "address", "district_code", "street_code"}
    violation_police = next(e for e in police["entries"] if e["event_type"] == VIOLATION)
    violation_market = next(e for e in market["entries"] if e["event_type"] == VIOLATION)
    assert "person_ref" in violation_police["data"]
    assert "person_ref" not in violation_market["data"]
    assert filed_market["leaf_hash"] == everything["entries"][1]["leaf_hash"]

    error = (await ledger.get("/v1/ledger?after=-1", headers=NO_GRANT, status=403))["error"]
    assert error["code"] == "no_data_sharing_grant"
    await ledger.get("/v1/ledger/export", headers=NO_GRANT, status=403)
    await ledger.get("/v1/ledger", headers=token("filing_officer"), status=403)

    # paging with a small limit: the same entries, none twice, none skipped
    seen: list[int] = []
    cursor = -1
    while cursor < 11:
        page = await ledger.get(f"/v1/ledger?after={cursor}&limit=2", headers=POLICE)
        seen += [e["index"] for e in page["entries"]]
        assert page["next_cursor"] >= cursor
        cursor = page["next_cursor"]
    assert seen == [e["index"] for e in police["entries"]]


async def test_export_streams_the_granted_view_as_jsonl_and_csv(ledger: Ledger) -> None:
    await ledger.stories(0, 3)  # 18 entries
    response = await ledger.client.get("/v1/ledger/export?from=2&to=15", headers=OPS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert [r["index"] for r in rows] == list(range(2, 15))

    response = await ledger.client.get("/v1/ledger/export?format=csv", headers=MARKET)
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    page = await ledger.get("/v1/ledger?after=-1&limit=100", headers=MARKET)
    assert [int(r["index"]) for r in table] == [e["index"] for e in page["entries"]]
    assert [json.loads(r["data"]) for r in table] == [e["data"] for e in page["entries"]]


async def test_ledger_topic_carries_only_what_every_agency_may_see(ledger: Ledger) -> None:
    events = await ledger.stories(0, 1)
    async with ledger.db.transaction() as session:
        payloads = (await session.execute(outbox_table.select().order_by(outbox_table.c.id))).all()
    records = [json.loads(p.payload) for p in payloads]
    assert [r["data"]["index"] for r in records] == list(range(6))
    assert {r["type"] for r in records} == {"cn.gov.gz.childcare.reporting.ledger.entry_shared.v2"}
    by_type = {r["data"]["event_type"]: r["data"] for r in records}
    assert by_type[FILED]["data"] == {
        "institution_id": events[1].data["institution_id"],
        "profile": {k: events[1].data["profile"][k] for k in ("name", "district_code", "street_code")},
    }
    assert by_type[FILED]["subject"] == events[1].subject
    assert set(by_type[VIOLATION]["data"]) == {"violation_id", "institution_id", "code", "severity", "confirmed_at"}
    assert by_type[BANNED]["data"] == {}, "not every agency may see bans"
    assert by_type[BANNED]["subject"] is None
    assert all(r["subject"] == "ledger" for r in records)
    # the names and encodings of /v1/ledger: an agency compares a record with the API's entry as is
    entries = (await ledger.get("/v1/ledger?after=-1&limit=100"))["entries"]
    same = ("index", "leaf_hash", "leaf_version", "event_id", "event_source", "event_type", "event_time", "recorded_at")
    assert [{k: r["data"][k] for k in same} for r in records] == [{k: e[k] for k in same} for e in entries]


async def test_an_entry_shared_v1_record_is_read_as_v2_with_the_same_leaf_hash(ledger: Ledger) -> None:
    """Records the service wrote before v2 (hex leaf hash, ``source_event_*`` names) stay on the
    topic; every reader decodes them through the upcaster into the v2 record of the same entry."""
    await ledger.stories(0, 1)
    async with ledger.db.transaction() as session:
        payloads = (await session.execute(outbox_table.select().order_by(outbox_table.c.id))).all()
    assert len(payloads) == 6
    for payload in payloads:
        old = entry_shared_v1(payload.payload.encode())
        assert json.loads(old)["type"] == "cn.gov.gz.childcare.reporting.ledger.entry_shared.v1"
        hex_hash = json.loads(old)["data"]["leaf_hash"]
        read_old, read_new = decode(old), decode(payload.payload.encode())
        assert read_old.type == read_new.type == "cn.gov.gz.childcare.reporting.ledger.entry_shared.v2"
        assert isinstance(read_old.data, LedgerEntrySharedV2)
        assert read_old.data.leaf_version is None, "v1 did not carry it"
        assert read_old.data == read_new.data.model_copy(update={"leaf_version": None}), "else the same, field by field"
        assert base64.b64decode(read_old.data.leaf_hash) == bytes.fromhex(hex_hash), "the same 32 bytes"
        assert read_old.original.type.endswith(".entry_shared.v1"), "the record as written is kept"
    # the upcaster re-encodes only a hex hash: anything else is refused by v2's validation, not guessed
    broken = json.loads(old)
    broken["data"]["leaf_hash"] = "not hex"
    with pytest.raises(PoisonEvent, match="invalid_payload"):
        decode(json.dumps(broken).encode())


async def test_go_checks_each_ledger_topic_record_against_the_signed_tree(ledger: Ledger) -> None:
    """An agency reading the ledger topic checks every record's leaf hash with Go's tlog as it comes:
    tlog.ParseHash takes it as it is (the encoding of the checkpoint and of every proof), and
    tlog.CheckRecord finds it at the record's index. Records upcast from entry_shared.v1 as well."""
    await ledger.stories(0, 2)  # 12 entries
    checkpoint = await ledger.checkpoint()
    key = await ledger.get("/v1/ledger/public-key", headers={})
    async with ledger.db.transaction() as session:
        payloads = (await session.execute(outbox_table.select().order_by(outbox_table.c.id))).all()
    records = [json.loads(p.payload)["data"] for p in payloads]
    upcast = [decode(entry_shared_v1(p.payload.encode())).envelope.data for p in payloads]
    assert len(records) == len(upcast) == checkpoint["tree_size"] == 12
    announced = []
    for record in records + upcast:
        path = f"/v1/ledger/proof/inclusion?index={record['index']}&size={checkpoint['tree_size']}"
        announced.append({"record": record, "proof": (await ledger.get(path))["proof"]})
    payload = {"vkey": key["verifier_key"], "checkpoint": checkpoint["note"], "announced": announced}
    status, report = run_gocheck(payload)
    assert status == 0, report
    assert [r["check"] for r in report["results"]] == [
        "verifier_key",
        "checkpoint",
        *(f"announced[{i}]" for i in range(24)),
    ]
    # Go refuses the hex that entry_shared.v1 carried, and a record's hash at another index
    as_hex = {**records[3], "leaf_hash": base64.b64decode(records[3]["leaf_hash"]).hex()}
    moved = {**records[3], "index": 4}
    wrong = [{"record": as_hex, "proof": announced[3]["proof"]}, {"record": moved, "proof": announced[3]["proof"]}]
    status, report = run_gocheck({**payload, "announced": wrong})
    assert status == 1
    assert [r["ok"] for r in report["results"][2:]] == [False, False]


async def test_cursors_never_skip_or_repeat_while_writes_continue(fresh_db: Callable[[str], str]) -> None:
    db = Database(fresh_db("reporting"), pool_size=4)
    app = create_app("reporting", settings_for("reporting", run_background_workers=False), db)
    try:
        async with running(app) as client:
            ledger = Ledger(client, db, consumers(app.state.context)[0].handlers)
            writing = asyncio.create_task(ledger.stories(0, 12))  # 72 entries, one transaction each
            seen: dict[str, list[int]] = {"ops": [], "police": []}
            cursors = {"ops": -1, "police": -1}
            while True:
                done = writing.done()
                for who, headers in (("ops", OPS), ("police", POLICE)):
                    page = await ledger.get(f"/v1/ledger?after={cursors[who]}&limit=4", headers=headers)
                    seen[who] += [e["index"] for e in page["entries"]]
                    cursors[who] = page["next_cursor"]
                if done and all(c == 71 for c in cursors.values()):
                    break
            await writing
            assert seen["ops"] == list(range(72))
            full = await ledger.get("/v1/ledger?after=-1&limit=1000", headers=POLICE)
            assert seen["police"] == [e["index"] for e in full["entries"]]
            assert len(seen["police"]) == 12 * 3
    finally:
        await db.dispose()


async def test_signing_key_rotation_keeps_earlier_checkpoints_verifiable(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> None:
    """Checkpoints signed before a key rotation still verify when the old key is kept as a previous
    verifier; without it, verification says so instead of passing silently."""
    db = await rollback_db("reporting")
    origin = settings_for("reporting").ledger_origin  # type: ignore[attr-defined]
    old = Signer.from_seed(origin, bytes(range(32)))
    new = Signer.from_seed(origin, bytes(range(1, 33)))

    async def running_with(**overrides: Any) -> Any:
        return running(
            create_app("reporting", settings_for("reporting", run_background_workers=False, **overrides), db)
        )

    async with await running_with(ledger_signing_key=old.skey) as client:
        ledger = Ledger(client, db, consumers(client._transport.app.state.context)[0].handlers)
        await ledger.stories(0, 1)
        first = await ledger.checkpoint()
        assert (await ledger.get("/v1/ledger/verify"))["ok"]

    async with await running_with(
        ledger_signing_key=new.skey, ledger_previous_verifier_keys=[old.verifier.vkey]
    ) as client:
        ledger = Ledger(client, db, consumers(client._transport.app.state.context)[0].handlers)
        await ledger.stories(1, 1)
        second = await ledger.checkpoint()
        assert second["tree_size"] > first["tree_size"]
        report = await ledger.get("/v1/ledger/verify")
        assert report["ok"], report
        assert [c["tree_size"] for c in report["checkpoints"]] == [first["tree_size"], second["tree_size"]]

    async with await running_with(ledger_signing_key=new.skey) as client:  # the old key forgotten
        ledger = Ledger(client, db, consumers(client._transport.app.state.context)[0].handlers)
        report = await ledger.get("/v1/ledger/verify")
        assert not report["ok"]
        assert "checkpoint_signature_invalid" in [p["code"] for p in report["problems"]], report["problems"]


async def test_every_signed_checkpoint_is_served_by_size_and_listed(ledger: Ledger) -> None:
    """An agency that missed checkpoints fetches the ones it needs by size (anonymously: sizes and
    roots only) and proves them consistent with Go's tlog; the list pages with bounded integers."""
    signed = []
    for n in range(3):
        await ledger.stories(n, 1)  # 6 entries each
        signed.append(await ledger.checkpoint())
    assert [c["tree_size"] for c in signed] == [6, 12, 18]

    listed = await ledger.get("/v1/ledger/checkpoints", headers={})
    assert listed == {"checkpoints": signed, "next_cursor": None}
    first = await ledger.get("/v1/ledger/checkpoints?limit=2", headers={})
    assert ([c["tree_size"] for c in first["checkpoints"]], first["next_cursor"]) == ([6, 12], 12)
    rest = await ledger.get(f"/v1/ledger/checkpoints?after={first['next_cursor']}&limit=2", headers={})
    assert (rest["checkpoints"], rest["next_cursor"]) == ([signed[2]], None)
    for bad in ("after=-2", "after=9223372036854775807", "limit=0", "limit=1001", "after=x"):
        error = (await ledger.get(f"/v1/ledger/checkpoints?{bad}", headers={}, status=422))["error"]
        assert error["field"] in ("after", "limit"), error

    assert await ledger.get("/v1/ledger/checkpoints/12", headers={}) == signed[1]
    note = await ledger.client.get("/v1/ledger/checkpoints/12?format=note")
    assert (note.status_code, note.text) == (200, signed[1]["note"])
    assert note.headers["content-type"].startswith("text/plain")
    error = (await ledger.get("/v1/ledger/checkpoints/7", headers={}, status=404))["error"]
    assert (error["code"], error["field"]) == ("checkpoint_not_found", "size")
    assert error["message"] == "该树大小没有已签名的检查点"
    for bad in ("-1", "9223372036854775808", "x"):
        await ledger.get(f"/v1/ledger/checkpoints/{bad}", headers={}, status=422)
    assert (await ledger.checkpoint()) == signed[2], "the latest is not re-signed"

    # Go: open both historic notes with the published key and check 12 and 18 extend 6 and 12.
    vkey = (await ledger.client.get("/.well-known/ledger-verifier-key")).text.splitlines()[0]
    notes = {s: (await ledger.client.get(f"/v1/ledger/checkpoints/{s}?format=note")).text for s in (6, 12, 18)}
    proofs = {
        (a, b): (await ledger.get(f"/v1/ledger/proof/consistency?from={a}&to={b}", headers=MARKET))["proof"]
        for a, b in ((6, 12), (12, 18), (7, 12))
    }
    history = [{"old": notes[a], "new": notes[b], "proof": proofs[(a, b)]} for a, b in ((6, 12), (12, 18))]
    status, report = run_gocheck({"vkey": vkey, "checkpoint": notes[18], "history": history})
    assert status == 0, report
    assert [r["check"] for r in report["results"] if r["ok"]] == [
        "verifier_key",
        "checkpoint",
        "history[0]",
        "history[1]",
    ]
    wrong = [
        {**history[0], "proof": proofs[(7, 12)]},
        {**history[1], "old": notes[6]},
        {**history[0], "old": notes[18]},
    ]
    status, report = run_gocheck({"vkey": vkey, "checkpoint": notes[18], "history": wrong})
    assert status == 1
    assert [r["ok"] for r in report["results"][2:]] == [False, False, False]


async def test_verifier_keys_are_published_with_fingerprints_and_rotation(
    rollback_db: Callable[[str], Awaitable[Database]],
) -> None:
    db = await rollback_db("reporting")
    origin = settings_for("reporting").ledger_origin  # type: ignore[attr-defined]
    old = Signer.from_seed(origin, bytes(range(32)))
    new = Signer.from_seed(origin, bytes(range(1, 33)))
    settings = settings_for(
        "reporting", run_background_workers=False, ledger_signing_key=new.skey,
        ledger_previous_verifier_keys=[old.verifier.vkey],
    )  # fmt: skip
    async with running(create_app("reporting", settings, db)) as client:
        response = await client.get("/.well-known/ledger-verifier-key")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == f"{new.verifier.vkey}\n{old.verifier.vkey}\n"
        key = (await client.get("/v1/ledger/public-key")).json()
    assert key["verifier_key"] == new.verifier.vkey
    assert key["fingerprint"] == hashlib.sha256(new.verifier.vkey.encode()).hexdigest()
    assert key["previous_verifier_keys"] == [old.verifier.vkey]
    assert key["previous"] == [
        {
            "key_name": origin,
            "key_id": old.verifier.key_id.hex(),
            "verifier_key": old.verifier.vkey,
            "fingerprint": hashlib.sha256(old.verifier.vkey.encode()).hexdigest(),
        }
    ]


async def test_hashes_are_base64_on_every_endpoint(ledger: Ledger) -> None:
    await ledger.stories(0, 1)
    for headers in (OPS, MARKET):
        entry = (await ledger.get("/v1/ledger?after=0&limit=1", headers=headers))["entries"][0]
        proof = await ledger.get("/v1/ledger/proof/inclusion?index=1&size=6", headers=headers)
        assert entry["leaf_hash"] == proof["leaf_hash"]
        assert base64.b64decode(entry["leaf_hash"]).hex() == entry["leaf_hash_hex"], "the old hex stays readable"
    exported = (await ledger.client.get("/v1/ledger/export?from=1&to=2", headers=OPS)).text
    assert json.loads(exported)["leaf_hash"] == entry["leaf_hash"]
