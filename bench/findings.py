"""What the profiles showed, per benchmark, and what would close the gap.

Written from the profiles of the runs (own time by package, SQL statements and commits counted per
event, server CPU per request, strace of the filing process under load) and from reading the code
on the hot paths. Nothing here changes shared/ or services/: these are proposals for their owners.
"""

from __future__ import annotations

_CONSUMER_PATH = """\
**What dominates.** The consumer path is one database transaction *per event* (credit: 1.0 commit per
event), and each event costs 8–9 SQL statements (counted; see the P1/P4 notes), each a round trip,
each statement built and compiled through SQLAlchemy Core first. In the profile SQLAlchemy's
statement construction, coercion and cache-key generation (`coercions.expect`,
`cache_key._generate_cache_key`, `_init_compiled`) take more own time than asyncpg and the socket
together; our own code (`services/*`, `shared/*`) is a few per cent. Wall time exceeds CPU time
(the process waits on PostgreSQL as well): the runner awaits every statement in turn, one record at a
time, so throughput is (statements × round trip + one commit) per event, and a busy
PostgreSQL makes every round trip slower. The bare consumer does none of this: it hands records over
in batches of hundreds. CPU alone sets a ceiling: the P1 and P4 notes give ~15–21 ms of Python CPU
per event for the two read models together, i.e. at most ~50–70 events/s per core before any
waiting, against tens of thousands for the bare consumer.

**What would close the gap** (in order of effect; every guarantee kept):
1. *Apply a fetched batch in one transaction* (`shared/consumer.py`): per partition, in offset order,
   claim all the batch's event ids with one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`,
   run the handlers for the fresh ones, commit once, then commit the offsets. If a handler fails,
   roll back and fall back to one-record transactions for that batch, so the poison record is
   isolated and dead-lettered exactly as today. Order per institution (per partition) is unchanged,
   the inbox still dedupes, and offsets still follow the DB commit. This turns ~200 commits into 1.
2. *Do per-subject work once per batch*: credit re-evaluates a subject's grade after every event;
   the grade is derived from all the subject's dated entries, so re-evaluating once per subject at
   the end of the batch gives the same state (and the same history) with a fraction of the reads.
   Reporting takes the ledger head lock (`lock_head`) per event; per batch it can lock once, append
   the leaves in memory (`merkle.append_leaf`) and write entries and nodes with one `executemany`
   each; the statistics projections can upsert per batch the same way.
3. *Cheaper statements*: build the hot statements once (module-level Core statements with
   `bindparam`, or `lambda_stmt`) so SQLAlchemy finds them in its compiled cache without rebuilding
   them, or issue the few hot-path statements through the asyncpg connection directly.
4. *Reporting only*: `services/reporting/jcs.py::_string` escapes JSON strings one character at a
   time (≈1 ms per event here); `json.encoder.encode_basestring` (C) produces exactly RFC 8785's
   escaping (only `"`, `\\` and control characters, lowercase `\\u00xx`) and is ~50× faster.

**How far that gets.** Items 1–3 remove most commits and round trips and most of the statement
building; a realistic expectation is 5–10× (hundreds of events/s), i.e. a P1 ratio of a few tenths
is within reach once the relay and both consumers batch. The P4 goal (≥ 0.30 of a bare consume that
does *nothing* with 40,000–80,000 records/s) is not reachable by any per-event handler in Python:
it would need ≤ ~0.05 ms of CPU per event. A replay that gets close needs a dedicated bulk path —
decode a topic in bulk, compute the read model's rows in memory, write them with `COPY` — and a
baseline that includes writing the same rows (e.g. bare consume + `COPY`), which is the fair measure
of "the tool's own cost".
"""

FINDINGS: dict[str, str] = {
    "P1": _CONSUMER_PATH + "\n" + "{extra}",
    "P1:extra": """

P1 also includes the relay: it publishes 500 rows per transaction with one `gather` over the sends
(already batched, linger 5 ms), so it is not the bottleneck — the two consumers are.
""",
    "P4-credit": _CONSUMER_PATH,
    "P3": """\
**What dominates.** Commit → ledger-visible is: the relay woken by the commit hook (no poll wait),
one relay transaction (advisory lock, select, send, mark published), the producer's `linger_ms=5`
and `acks=all`, the reporting consumer's fetch, then reporting's transaction of ~9 statements (inbox,
entry check, head lock, entry and node inserts, outbox announcement, statistics projections) and its
commit — on a 2-core machine shared by four service processes, the broker, PostgreSQL and the
neighbours' tests. The median is a few round trips of a busy database; the p99 is mostly scheduling:
one of those processes waiting for a core. The bare path has one process and no database.

**What would close the gap:** fewer round trips in reporting's append (items 2–3 of the consumer
path: one statement per table, the head row updated once), `linger_ms=0` when the relay publishes a
single row (the linger only pays off for bursts, which `publish_batch` already groups), and keeping the
measurement on a machine where the services have their cores. The ratio is as sensitive to the
baseline's tail as to ours: an earlier quick run on a busier machine measured bare p99 44 ms and
platform p99 286 ms (6.5×, met); this run measured 7.7 ms and 188 ms (24×, missed).
""",
    "P4-reporting": _CONSUMER_PATH + "\n" + "{extra}",
    "P4-reporting:extra": """
`rebuild.py` already groups 500 appends per transaction, so item 1 is done there; what remains per
event is items 2–4. It also first reads *every* event of the domain topics into memory
(`events: dict[…, DecodedEvent]`) to replay them in the ledger's order: memory grows linearly with
the replay (see the memory section). Reading the ledger topic for the order, and then the domain
topics in a streaming pass that buffers only events that arrive ahead of their turn, would keep it
flat.
""",
    "P2": """\
**What dominates.** The filing request costs an order of magnitude more server CPU than the baseline's
(see the P2 note), and almost none of it is filing's own code (`services/filing` ≈ 2 % of own time):
SQLAlchemy ORM (unit of work, flush, statement compilation) and asyncpg lead, then FastAPI's dependency
solving and Starlette's middleware stack, pydantic validation and serialisation of the request and
the full `InstitutionOut` response, JWT verification. The database work is also
larger than the transaction itself: per request the filing service sends the pool's `pool_pre_ping`
round trip, `BEGIN`, the document and USCC look-ups, `SAVEPOINT`/`RELEASE` around the insert (to
turn a duplicate USCC into a 409), the insert, the outbox insert, `COMMIT`, and then the pool's
reset-on-return `ROLLBACK` (measured: ≈1 rollback per request in `pg_stat_database`). The baseline
sends `BEGIN`, two inserts, `COMMIT`. With 16 connections the service also opens a new PostgreSQL
connection every few dozen requests (pool 10 + overflow 10, overflow connections are closed on
return, and a new connection starts with a cold prepared-statement cache).

**What would close the gap:**
1. `shared/db.py`: drop `pool_pre_ping` (a round trip per request; rely on `pool_recycle` and the
   existing transient-error handling) and set the pool's `reset_on_return` to `None` for
   connections that just committed (the transaction is already closed); size the pool for the
   expected concurrency so overflow connections are not opened and closed per burst.
2. `services/filing/institutions/service.py::submit`: replace the `begin_nested()` savepoint with
   `INSERT … ON CONFLICT (uscc) DO NOTHING RETURNING id` (a duplicate → 409 without a savepoint), and
   fold `uscc_exists` into it; check the five documents with the same single query it uses now.
3. Build `FilingRules` (and its `WorkdayCalendar`) once at start-up instead of per request
   (`api._rules`), cache verified JWTs for their remaining lifetime (bounded LRU keyed by the token),
   and serialise the response once (`response_model` validation of an object built from validated
   data is a second pass).
4. Run more than one uvicorn worker per pod (`--workers` = cores): the service is CPU-bound per
   process; the baseline needs a fraction of a core for the same load.

**How far that gets.** Items 1–3 save round trips and perhaps a third of the CPU; the published
anchors for FastAPI + SQLAlchemy ORM + asyncpg (300–1,500 req/s per worker for an insert endpoint,
reference-kafka.md part B) against Starlette + asyncpg put ≥ 0.70 out of reach of this stack for a
write endpoint; ≈ 0.2–0.3 is a realistic target. The remaining gap is the framework's own cost
(ORM, dependency injection, validation), visible as `sqlalchemy`, `asyncpg`, `fastapi`, `starlette` above.
""",
    "P5": """\
**What dominates.** `run_draw` computes one HMAC per (selected institution, eligible inspector): with
the service's default ratios 18,981 of 100,000 institutions are selected and each has ~118 eligible
inspectors, so ~2.2 million HMACs against the baseline's 100,000, plus a scan of all 1,000 inspectors
per selected institution (~19 million iterations) to find the eligible ones. `hmac.new` per call
also re-derives the key pads each time.

**What would close the gap without changing a single result:** index the inspectors by district
once (eligibility scans ~118 instead of 1,000), and build `hmac.new(key, digestmod=sha256)` once and
`.copy()` it per message. Together these should roughly halve the time (an estimate, not measured).
Reaching ≤ 3× needs fewer HMACs, which changes the published algorithm (`gz-childcare-draw/v1`,
docs/draw.md, tools/verify_draw.py): e.g. a v2 that ranks each district's inspectors once per draw
and rotates through that ranking. That is a decision for the inspection owner and the lead, not an optimisation.
""",
}


def findings_for(key: str) -> str:
    text = FINDINGS.get(key, "")
    return text.replace("{extra}", FINDINGS.get(key + ":extra", ""))
