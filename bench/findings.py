"""What the profiles showed, per benchmark, what was changed because of them, and what would close
the rest.

Written from the profiles of the runs (own time by package, SQL statements and commits counted per
event, server CPU per request) and from reading the code on the hot paths. The figures of the run
itself are in the table and the notes above; "before" figures are from the first profiled run
(2026-11-29 07:06 UTC, the same machine and command).
"""

from __future__ import annotations

_CONSUMER_PATH = """\
**Before.** The consumer path was one database transaction per event, each of 8–9 SQL statements built
and compiled through SQLAlchemy (credit 9.3, reporting 8.8 per event): 17.9 ms of Python CPU per event
for the two read models, P1 48 events/s (0.0125), replay 39–54 events/s. After the first round of
changes (items 1–5 below; fresh-clone run of 09:48 UTC): P1 398 events/s (0.085, 2.2 ms of CPU per
event), replay 724 events/s into credit (1.17 ms of CPU and 2.1 statements per event) and 1,077 into
reporting (0.78 ms, 2.7 statements).

**What was changed** (every delivery guarantee kept; each change is pinned by a test that fails if it
loses, doubles or reorders anything):
1. *A fetched batch is one transaction* (`shared/consumer.py`): per partition, in offset order, one
   multi-row inbox claim (`INSERT … ON CONFLICT DO NOTHING RETURNING`), the handlers of the fresh
   events, the work they deferred, one commit, then the offsets. A failing record splits the batch:
   the records before it are applied together, it is retried alone (the failed batch counting as its
   first attempt) and dead-lettered, the records after it are applied together
   (`tests/e2e/test_batches.py`; the delivery and fault suites are unchanged).
2. *Work once per batch instead of once per event* (`shared/batch.py`): credit re-evaluates each
   subject the batch touched once, at its end, with the rows of all of them read by one statement
   per table (`credit.repository.prefetch`, subjects locked in key order); the test builds credit
   batch by batch and event by event and finds the same subjects, standings, histories, lists,
   entries, announced records and published grades. Reporting appends the batch's ledger entries
   under one head lock (one insert for the entries, one for the completed subtrees) and writes the
   statistics projections with one executemany per statement shape (the projection writes commute by
   design). Outbox rows are written with one executemany, in the order they were added.
3. *Hot statements built once*: Core statements on the tables with bind parameters, found in
   SQLAlchemy's compiled cache instead of being rebuilt per event; a missing index on list stays by
   subject added (`credit_0005`).
4. *Ledger leaves*: JCS strings through the C JSON encoder (pinned against the RFC 8785 rules by a
   property test).
5. *Replay*: the reporting rebuild streams the ledger topic and the domain topics side by side
   (memory no longer grows ~7 KiB per event) and writes each chunk of 500 with one inbox claim and
   one ledger append.
6. *Credit writes per batch, not per event*: the handlers stage the subject rows and entries; before
   anything reads them (the batch's re-evaluation, a deregistration, a repair or policy event) they
   are written with one upsert and one insert. Several events about one subject are folded in Python
   by the rule the upsert's `ON CONFLICT` clause applies (`repository.fold_subject`), pinned against
   the real upsert on 80 random sequences with equal times, missing profiles and late earlier events
   (`tests/credit/test_batch_staging.py`). The standings and grade histories of all subjects are
   flushed once at the batch's end. Credit: 2.1 → 0.07 statements per event.
7. *The rebuild groups its projection writes* per statement shape, as the live consumer does
   (reporting replay: 2.7 → 0.02 statements per event).
8. *Bulk rows on the session's own asyncpg connection* (`shared.db.driver_connection`, same
   transaction): outbox rows, ledger entries and completed subtrees as prepared-statement
   `executemany` of tuples; the inbox claim from one cached compile (`insertmanyvalues`) instead of a
   new multi-row statement per batch; metric children looked up once per label set.
9. *Ledger leaves through the json module's C encoder* whenever every number in the document prints
   the same in Python and ECMAScript (integral floats written as the ints they equal): 98 → 27 µs per
   leaf, pinned byte for byte against the general RFC 8785 writer by a property test.
10. *Time-ordered event ids* (UUIDv7, `shared/ids.py`): the event id is a key of every consumer's
   inbox, the ledger's (source, id) index, the outbox and event-keyed projection rows; random
   (version 4) ids put each insert on a random, eventually cold, index page, and after every
   checkpoint on a page that must be written whole to the WAL — a cost per event that grows with the
   log (the first full run, before this change, measured 16–18 % more time per event at 1,000,000
   than at 100,000: P6 11.8 credit, 11.6 reporting).

Measured after 6–8 with `python -m bench.replay_one both 20000` (no profiler): credit 0.32 ms of CPU
per event (was 1.17), reporting rebuild 0.32 (was 0.78); P1's relay + both consumers 0.77 ms per
event in one process (was 2.2). The first full run after 6–8 (10:41 UTC, before 9–10): P1 0.14
(1,271 vs 9,087 events/s), replay of 1,000,000 events 1,898 events/s into credit and 2,197 into
reporting.

**What dominates now** (the profile tables of this section). The statement count is no longer the
cost: 0.07–0.13 statements per event. What is left is per-row Python: SQLAlchemy about a quarter of
the busy time (the ORM loading the read-ahead rows and building the standing and history objects it
flushes, the parameter processing of the projections' executemany, the relay's select and update),
C builtins a fifth (JSON, hashing, sorting), the CloudEvent and payload decoding and validation
(`json.loads` + two pydantic validations per record, ≈ 25–30 µs), aiokafka ≈ 5 %.

**Growth (P6).** Two full runs on this shared machine: 11.8 (credit) and 11.6 (reporting) before
change 10, 11.3 and 11.7 after it, against ≤ 11. What the runs' raw figures (`bench/results.json`)
show: the replay's share of wall time spent on our CPU is the same at both sizes (credit 0.79 → 0.75
and 0.81 → 0.81, reporting 0.72 → 0.71 and 0.72 → 0.74), so the extra time is not waiting on a
database that slows with size; our CPU per event grows 12–19 % from 100,000 to 1,000,000 — and so does
the bare consumer's, which does identical work per record at both sizes: −26 % in the first run,
+35 % in the second (the neighbours' load moves CPU time per instruction on 2 shared logical CPUs).
Per event the read models do O(1) work plus O(log N) index descents; the rebuild's memory grows by
tens of MiB, not with the log (89 MiB over 1,000,000 events, 52 over 100,000). The measured growth is
inside this machine's noise; what would settle it is the median of several full runs on a quiet
machine, and `EXPLAIN (ANALYZE, BUFFERS)` of the batch statements at both sizes.

**Why the goals are still missed, and what would close the rest.** The bare baselines do no work per
record: P1's bare path costs 0.075–0.1 ms of CPU per event, P4's bare consume ≈ 5–7 µs. 0.30 of P1
leaves ≈ 0.5 ms of CPU per event for the relay plus two read models in one process (now 0.77); 0.30
of P4 leaves ≈ 17–25 µs per event — less than decoding and validating one CloudEvent costs before
anything is written. No implementation that validates each event can reach the P4 goal against this
baseline. In order of effect:
1. *Credit's read-ahead and writes as plain rows* (Core/asyncpg instead of ORM objects for the
   prefetched rows, the standings and the history): the largest remaining SQLAlchemy share.
2. *Projections compiled once and sent on asyncpg* like the outbox and ledger rows.
3. *A bulk replay path* (P4): decode a chunk, compute the read model's rows in memory, `COPY` them;
   and a second baseline that also writes the same rows (bare consume + `COPY`), the fair measure of
   the tools' own cost for a replay.
4. *Scale out*: every domain topic has several partitions, so as many consumer processes per service
   share the load with per-institution order kept; in production each service is its own process on
   its own core, so the pipeline's rate is the slowest stage's, not the sum of all three in one
   process as P1 measures.
"""

FINDINGS: dict[str, str] = {
    "P1": _CONSUMER_PATH + "\n" + "{extra}",
    "P1:extra": """
P1 also includes the relay: it publishes up to 500 rows per transaction with one `gather` over the
sends (linger 5 ms), so it is not the bottleneck — the two consumers are.
""",
    "P4-credit": """\
**What the bulk path does** (`services/credit/rebuild.py`). It decodes the records a chunk at a time,
folds them in memory with the live handlers' own rules (`services/credit/facts.py`), evaluates every
subject once (`timeline.build`) and writes every table with COPY, inbox rows and announcements
included; apart from COPY it sends nothing per chunk (the EXPLAIN section shows the few statements it
sends once). The fair limit COPYs the same row counts per table but computes none of them, so the
rest of the gap is the read model's own work: folding the facts, evaluating the policy, building the
announcements' CloudEvents. The live consumer group (row P4-credit-live) does the same work one
fetched batch at a time, through SQLAlchemy.

**Growth (P6-credit, 11.8 in the full run of 5fca32e).** The rebuild now times its phases
(`CreditRebuildResult.phases`, e549a76). Measured on a quiet machine, 100,000 → 1,000,000 events,
seconds: read 6.5 → 90.5, of which our CPU 5.0 → 55.8 and **Kafka fetch wait 2.0 → 39.0**; evaluate
3.5 → 35.0; write 2.8 → 36.6 (building the outbox rows 1.4 → 17.4, every COPY 1.3 → 19.0); Python's
GC 1.2 → 16.9 inside those. The wall time beyond our CPU was the read's wait: the merge across
partitions asked a dry partition for more on its own, and aiokafka sends no fetch to a broker while
it holds any undelivered batch younger than its 100 ms prefetch backoff, so almost every refill
waited. Fixed in 7401148 (the dry partition is refilled with what every partition has fetched, kept
in the merge's own buffers; same records, same order, memory still two fetched batches per
partition): fetch wait 0.4–0.6 → 4.6 s, the whole rebuild 163.8 → 126–137 s at 1,000,000; ratio
11.2–12.0 over three runs of each size (the first run in a process 11.2–11.5). Tried and not kept, by
measurement: GC frozen or off (off for the whole rebuild: 12.3), rows sorted by primary key before
COPY (no gain). What grows still: full GC collections over the folded rows (≈ 14× for 10× data), the
COPY into tables larger than the embedded server's 128 MB shared_buffers (PostgreSQL's own writes of
pages 20,000 → 270,000; production runs 2 GB), and building the outbox envelopes (17 µs an event at
1,000,000).
""",
    "P3": """\
**What dominates.** Commit → ledger-visible is: the relay woken by the commit hook (no poll wait), one
relay transaction (advisory lock, select, send, mark published), the producer's `linger_ms=5` and
`acks=all`, the reporting consumer's fetch, then reporting's transaction for the one event (inbox
claim, entry check, head lock, entry and node inserts, head update, outbox announcement, statistics
projections) and its commit — on a 2-core machine shared by four service processes, the broker,
PostgreSQL and the neighbours' tests. The median is a few round trips of a busy database; the p99 is
mostly scheduling: one of those processes waiting for a core. The bare path has one process and no
database. Batching (see the consumer path) does not shorten a lone event's path: it arrives alone.

**What would close the gap:** `linger_ms=0` when the relay publishes a single row (the linger only
pays off for bursts, which `publish_batch` already groups), the reporting append on asyncpg directly
(item 1 of the consumer path), and measuring where the services have their cores. The ratio is as
sensitive to the baseline's tail as to ours: an earlier run on a busier machine measured bare p99
44 ms and platform p99 286 ms (6.5×, met); the quiet runs measure bare p99 6–8 ms.
""",
    "P4-reporting": """\
**What the rebuild does** (`services/reporting/rebuild.py`). Chunks of 500 events in recorded ledger
order, one transaction each: one inbox claim, the leaves, completed subtrees and head computed in
memory by the live append's functions and written with COPY, then the statistics projections as the
live consumer writes them (one `executemany` per statement shape: the upserts listed in the EXPLAIN
section, per chunk). With 2 workers the leaves and projections are computed in worker processes and
this process stays the single writer of the ledger. The fair limit writes the same row counts with
COPY but computes no leaf (the version-2 leaf has ~40 salted field digests), no upsert and no
ordering by the ledger topic.

**What dominates** (the rebuild alone under cProfile, 1,500 events, `./dev bench --quick` of
2026-12-06 at b9eee10; and P1's profile in the full run): the version-2 leaf. Per event ~44 canonical
JSON documents (each field's salt input `[source, id, path]` and its disclosure `[salt, path,
value]`, then the data, the salts and the leaf), 20 HMACs and 40 base64 strings: JCS alone
(`_prepared`, `JSONEncoder.encode`/`iterencode`, `canonicalize`) was 37 % of the rebuild's busy time
and 20 % of P1's. The database is not the limit: 0.02 statements and 0.002 commits per event.

**What was changed after the full run** (9f5d1ca): scalars and arrays of scalars — the ~40 small
documents — are written directly (the JSON module's own C string encoder, no container walk, no
encoder object per call), pinned against the general RFC 8785 writer by the property test: a leaf
of 20 fields 207 → 143 µs in-process.

**What would close the rest.** 0.30 of the fair limit is ≈ 0.25 ms of CPU per event for everything
the rebuild does; the leaf alone is ≈ 0.15 ms now (the salts' HMACs and digests are the design:
SD-JWT-style per-field commitments), the decoding ≈ 0.03, the projections' upserts and the chunk
writes the rest. Left: the leaves' HMAC/digest inputs built as bytes without the JSON layer
(one format, pinned the same way), and more workers — the leaves are computed in the workers and
the single writer waited on them in every run.
""",
    "demo": """\
**What the demo load is.** 2,500 institutions filed through the public APIs (submission, the second
officer's decision, the roster, the annual report), two random inspection plans with witnesses and
their inspections, the follow-ups: ≈ 10,950 requests, and behind them ≈ 70,000 events that credit,
reporting and inspection each consume (≈ 30,000 of them the roster's hires). The run ends when what
Kafka carries has been applied everywhere. On 2 cores the wall time cannot be less than the CPU all
processes spend divided by two; in this run that floor was (busiest first) the figures in the notes
column, ≈ 480 CPU-seconds: ≥ 240 s before any waiting.

**Profile** (docs/benchmarks-demo-profile.md: `python -m bench.demo_load --profile
filing,reporting,credit`, with the changes below in; cProfile's CPU time, ≈ 2.3× each process's
unprofiled CPU): filing 153 s — SQLAlchemy
27 %, C builtins 20 %, FastAPI 10 %, asyncpg 7 %, Starlette 5 %, filing's own code 3.4 %; reporting
125 s — its ledger leaves (JCS, per-field salts and digests) ≈ 19 %, SQLAlchemy 18 %, aiokafka 8 %;
credit 106 s — SQLAlchemy 37 %, aiokafka 11 %. Per request and per event the time is the framework
stack's and the ORM's, as P2 and P1 show one path at a time.

**What was changed.** The roster is hired as a batch (one look-up of the roster's bans, one of its
active employments, one `INSERT … ON CONFLICT DO NOTHING RETURNING`, one outbox write; was ~6 round
trips and a savepoint per person: 3.19 → 0.27 ms of filing CPU per hire, in-process); the ledger's
canonical JSON writes the ~40 small arrays of a version-2 leaf directly (207 → 143 µs per leaf). The
demo load after both (`python -m bench.demo_load` at 9526194, with another benchmark running beside
it, so its wall time is not comparable): 31.8 ms of CPU per request instead of 43.7 — filing 125 →
66 s, PostgreSQL 92 → 69, reporting 73 → 53, credit 61 → 47 CPU-seconds; ≈ 348 CPU-seconds in all.

**After** (`./dev bench --quick` on a fresh clone at 7401148, neighbours 2 % of one core, measured):
the same demo city in **169 s**, 27.1 ms of CPU per request (filing 61, PostgreSQL 57, inspection
50, reporting 41 CPU-seconds): the goal met on this machine, with ≈ 6 % to spare. A full run has not
re-measured it.

**What would close the rest** (as it stood at the full run). 180 s on 2 cores leaves ≤ 360
CPU-seconds for everything, the client and Kafka included, at perfect overlap; the load now needs
≈ 350. Meeting it with margin needs the
consumers' per-event cost down again (credit's ORM evaluation per batch onto Core rows; reporting's
projections on asyncpg like its ledger rows; inspection and filing decoding in full the events they
only skip), or a third core: the services are separate processes and scale with cores.
""",
    "P2": """\
**Before.** 129 req/s against the bare endpoint's 1,494 (0.086); 7.65 ms of server CPU per request
against 0.55; 12 round trips per request (pre-ping `BEGIN; ;ROLLBACK` on every checkout, document and
USCC look-ups, a savepoint around the insert, the ORM flush) against the baseline's 4.

**What was changed** (validation and its Chinese/English 4xx answers, the audit row, the outbox row
in the same transaction, 409 on a duplicate USCC also under concurrency — all kept and tested):
one `INSERT … SELECT … WHERE <every document exists> ON CONFLICT (uscc) DO NOTHING RETURNING id`
replaces the look-ups, the savepoint and the flush (only when it inserts nothing are the causes
looked up, documents first, so the answers are unchanged); the pool checks a connection on checkout
without a round trip unless it sat idle > 5 s (instead of `pool_pre_ping`'s three), and keeps its
connections instead of closing overflow ones on return; a verified token is cached until its `exp`;
one role dependency over the bearer scheme; outbox and audit inserts built once without `RETURNING`;
the decision deadline once a day, filing rules once per app, metric children once per label set.
Five round trips per request now; server CPU per request down by about 2.5×.

**What dominates now.** A CPU-time profile of the filing process under load (C and stdlib time
charged to the package that called it): SQLAlchemy 31 %, FastAPI 23 %, Starlette 12 %, asyncpg 7 %,
uvicorn 5 %, aiokafka (relay, filing's own consumers) 4 %, pydantic 3.5 %, our own code about 11 %
(services/filing 4.4 %). Measured in-process without a profiler: a SQLAlchemy transaction with one
insert 0.4–0.58 ms against 0.14 ms for plain asyncpg; an empty FastAPI POST endpoint 0.13 ms, and the
database-session dependency 0.2 ms before any statement; all of our own per-request Python ≈ 0.15 ms.

**What would close the rest.** 0.70 of the baseline means ≈ 0.6 ms of server CPU per request.
Replacing SQLAlchemy by asyncpg on this path (≈ −0.5 ms) and FastAPI's layers by a plain Starlette
endpoint (≈ −0.4 ms) would still leave roughly 0.35–0.45 of the baseline: the remaining gap is the
framework stack the services are built on, not the filing logic. Running `--workers` = cores per pod
multiplies throughput per pod, which the ratio per process does not show.
""",
    "P5": """\
**Met** with `gz-childcare-draw/v2` (docs/draw.md): the selection step is unchanged; each team member
is one keyed choice `HMAC(seed, "assign:" + institution + ":" + r) mod n` among the least-loaded eligible
inspectors of the institution's district (per-district workload buckets), i.e. `team_size` HMACs per
selected institution instead of one per eligible inspector (~2.2 million under v1). Plans drawn
before keep v1 (`plan.algorithm`, migration `inspection_0005`) and verify with it;
`tools/verify_draw.py` dispatches on the record's algorithm.
""",
}


def findings_for(key: str) -> str:
    text = FINDINGS.get(key, "")
    return text.replace("{extra}", FINDINGS.get(key + ":extra", ""))
