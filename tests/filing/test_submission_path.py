"""The submission's single-statement uniqueness check under concurrency, and the pool's liveness
check on checkout (what replaced ``pool_pre_ping``), against a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from services.filing.institutions import repository, service
from services.filing.institutions.errors import DocumentNotFound, UsccAlreadyFiled
from services.filing.institutions.schemas import InstitutionCreate
from shared.auth import Principal
from shared.db import Database
from shared.outbox import Outbox
from shared.workdays import WorkdayCalendar
from tests.filing.support import filing_body, make_uscc

OFFICER = Principal(subject="o", roles=frozenset({"filing_officer"}), districts=("440106",))
RULES = service.FilingRules(calendar=WorkdayCalendar())


async def _documents(db: Database) -> dict[str, str]:
    documents = {}
    async with db.transaction() as session:
        for kind in ("business_licence", "premises_proof", "hygiene_evaluation", "fire_safety", "food_licence"):
            documents[kind] = hashlib.sha256(kind.encode()).hexdigest()
            await repository.store_document(
                session, sha256=documents[kind], media_type="application/pdf", content=kind.encode(), uploaded_by="o"
            )
    return documents


async def _submit(db: Database, documents: dict[str, str], uscc: str, *, fail_after: bool = False, **kw: str) -> None:
    async with db.transaction() as session:
        data = InstitutionCreate.model_validate(filing_body(documents, uscc=uscc, **kw))
        await service.submit(session, Outbox(source="/services/filing"), RULES, data, officer=OFFICER)
        if fail_after:
            raise RuntimeError("the request failed after its write")


async def _count(db: Database, sql: str) -> int:
    async with db.transaction() as session:
        return int((await session.execute(text(sql))).scalar_one())


async def test_concurrent_submissions_of_one_code_file_it_once(fresh_db: Callable[[str], str]) -> None:
    """Two transactions insert the same code at once: the second waits for the first and, once
    that commits, inserts nothing and answers 409; one institution row, one event."""
    db = Database(fresh_db("filing"), pool_size=4)
    try:
        documents = await _documents(db)
        uscc = make_uscc()
        first_inserted = asyncio.Event()
        release_first = asyncio.Event()

        async def first() -> None:
            async with db.transaction() as session:
                data = InstitutionCreate.model_validate(filing_body(documents, uscc=uscc))
                await service.submit(session, Outbox(source="/services/filing"), RULES, data, officer=OFFICER)
                first_inserted.set()
                await release_first.wait()  # hold the transaction open while the second one runs

        async def second() -> None:
            await first_inserted.wait()
            await _submit(db, documents, uscc, name="同一代码另一家托育园")

        first_task = asyncio.create_task(first())
        second_task = asyncio.create_task(second())
        await first_inserted.wait()
        await asyncio.sleep(0.3)
        assert not second_task.done(), "the second insert waits for the first transaction"
        release_first.set()
        await first_task
        with pytest.raises(UsccAlreadyFiled):
            await second_task
        assert await _count(db, f"SELECT count(*) FROM institution WHERE uscc = '{uscc}'") == 1
        assert await _count(db, "SELECT count(*) FROM outbox") == 1
        assert await _count(db, "SELECT count(*) FROM institution WHERE name = '同一代码另一家托育园'") == 0
    finally:
        await db.dispose()


async def test_a_resubmitted_code_after_a_rolled_back_first_attempt_is_filed(fresh_db: Callable[[str], str]) -> None:
    """The uniqueness check sees committed rows only: a first attempt that rolled back leaves the
    code free."""
    db = Database(fresh_db("filing"), pool_size=2)
    try:
        documents = await _documents(db)
        uscc = make_uscc()
        with pytest.raises(RuntimeError):
            await _submit(db, documents, uscc, fail_after=True)
        await _submit(db, documents, uscc)
        assert await _count(db, f"SELECT count(*) FROM institution WHERE uscc = '{uscc}'") == 1
        assert await _count(db, "SELECT count(*) FROM outbox") == 1
    finally:
        await db.dispose()


async def test_connections_the_server_closed_are_not_handed_out(fresh_db: Callable[[str], str]) -> None:
    """The server ends every pooled connection (as a restart does): the next transactions get new
    connections and succeed, as ``pool_pre_ping`` guaranteed, without a ping per checkout."""
    url = fresh_db("filing")
    db = Database(url, pool_size=3)
    admin = Database(url, pool_size=1)
    try:

        async def backend_pid() -> int:
            async with db.transaction() as session:
                await asyncio.sleep(0.05)  # keep three connections checked out at once
                return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())

        pids = set(await asyncio.gather(*(backend_pid() for _ in range(3))))
        assert len(pids) == 3
        async with admin.transaction() as session:
            await session.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                {"pids": list(pids)},
            )
        await asyncio.sleep(0.5)  # the client notices the closed sockets
        for _ in range(4):
            pid = await backend_pid()
            assert pid not in pids, "a connection the server had closed was handed out"
    finally:
        await db.dispose()
        await admin.dispose()


async def test_a_connection_idle_past_the_limit_is_pinged_before_use(
    fresh_db: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that has sat unused for longer than ``PING_AFTER_IDLE_SECONDS`` is pinged on
    checkout; one in steady use is not."""
    import shared.db

    db = Database(fresh_db("filing"), pool_size=1)
    pings = 0
    real_ping = AsyncAdapt_asyncpg_connection.ping

    def counting_ping(self: AsyncAdapt_asyncpg_connection) -> None:
        nonlocal pings
        pings += 1
        real_ping(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting_ping)
    try:
        for _ in range(3):  # a new connection, then the same one in steady use
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
        assert pings == 0, "a connection in steady use is not pinged"
        monkeypatch.setattr(shared.db, "PING_AFTER_IDLE_SECONDS", 0.0)
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
        assert pings == 1, "an idle connection is pinged before it is handed out"
    finally:
        await db.dispose()


async def test_a_missing_document_is_reported_before_a_duplicate_code(fresh_db: Callable[[str], str]) -> None:
    """The insert is both checks; when it inserts nothing the answer is the same as when they ran
    one by one: a missing document first, then the duplicate code."""
    db = Database(fresh_db("filing"), pool_size=2)
    try:
        documents = await _documents(db)
        uscc = make_uscc()
        await _submit(db, documents, uscc)
        with pytest.raises(UsccAlreadyFiled):
            await _submit(db, documents, uscc)
        missing = {**documents, "fire_safety": "0" * 64}
        with pytest.raises(DocumentNotFound) as refused:
            await _submit(db, missing, uscc)
        assert refused.value.field == "documents.fire_safety"
        with pytest.raises(DocumentNotFound):
            await _submit(db, missing, make_uscc())
        assert await _count(db, "SELECT count(*) FROM institution") == 1
        assert await _count(db, "SELECT count(*) FROM outbox") == 1
    finally:
        await db.dispose()


async def test_one_uploaded_file_may_serve_as_two_documents(fresh_db: Callable[[str], str]) -> None:
    db = Database(fresh_db("filing"), pool_size=2)
    try:
        documents = await _documents(db)
        shared_file = {**documents, "premises_proof": documents["business_licence"]}
        await _submit(db, shared_file, make_uscc())
        assert await _count(db, "SELECT count(*) FROM institution") == 1
    finally:
        await db.dispose()
