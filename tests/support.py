"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import mint_token
from shared.db import Database
from shared.kafka import KafkaAccess
from shared.kafka_access import ADMIN_PRINCIPAL
from shared.settings import DEV_KAFKA_ADMIN_PASSWORD, ServiceSettings


def admin_access(kafka: str | KafkaAccess) -> KafkaAccess:
    """The test acting as the operator: the local broker's admin principal (a super user). Tests
    read and write raw records with it; the services under test use their own principals."""
    if isinstance(kafka, KafkaAccess):
        return kafka
    return KafkaAccess(kafka, ADMIN_PRINCIPAL, DEV_KAFKA_ADMIN_PASSWORD)


def settings_for(service: str, **overrides: Any) -> ServiceSettings:
    from services.credit.settings import CreditSettings
    from services.filing.settings import FilingSettings
    from services.inspection.settings import InspectionSettings
    from services.reporting.settings import ReportingSettings

    classes: dict[str, type[ServiceSettings]] = {
        "filing": FilingSettings,
        "inspection": InspectionSettings,
        "credit": CreditSettings,
        "reporting": ReportingSettings,
    }
    defaults: dict[str, Any] = {
        "environment": "test",
        "topic_partitions": 3,
        "outbox_poll_interval_seconds": 0.2,
        "consumer_session_timeout_ms": 6000,
        "consumer_retry_backoff_seconds": 0.05,
    }
    if service == "inspection":
        # plans committed only to read their lists need no observers (every draw still needs a reveal
        # after the reveal time; tests/inspection/test_draw_witness.py uses the production defaults)
        defaults["draw_min_observers"] = 0
    return classes[service](**{**defaults, **overrides})


def create_app(service: str, settings: ServiceSettings, database: Database) -> FastAPI:
    from services.credit.app import create_app as credit_app
    from services.filing.app import create_app as filing_app
    from services.inspection.app import create_app as inspection_app
    from services.reporting.app import create_app as reporting_app

    factories = {"filing": filing_app, "inspection": inspection_app, "credit": credit_app, "reporting": reporting_app}
    return factories[service](settings, database)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (relay, consumers) and hand out an httpx client on its ASGI interface."""
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: a 500 reaches the client as a response, as it would over HTTP.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def token(*roles: str, subject: str = "test-user", districts: list[str] | None = None) -> dict[str, str]:
    settings = ServiceSettings(environment="test")
    minted = mint_token(settings, subject=subject, roles=list(roles), districts=districts)
    return {"Authorization": f"Bearer {minted}"}


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 30.0, every: float = 0.1) -> None:
    """Wait for an asynchronous outcome; fails the test with a clear message if it never comes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if await check():
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached within {within}s")
        await asyncio.sleep(every)


async def read_topic(kafka: str | KafkaAccess, topic: str, *, within: float = 20.0) -> list[Any]:
    """Every record currently in ``topic`` (all partitions), read without a consumer group (as the
    admin unless ``kafka`` names a principal)."""
    consumer = AIOKafkaConsumer(
        **admin_access(kafka).aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        for _ in range(50):
            if partitions:
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = asyncio.get_running_loop().time() + within

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        while await behind():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"could not read {topic} to its end within {within}s")
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def produce_raw(kafka: str | KafkaAccess, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
    """Write raw records (as the admin unless ``kafka`` names a principal)."""
    producer = AIOKafkaProducer(**admin_access(kafka).aiokafka(), enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


class Platform:
    """The services running in this test process against real Kafka and real PostgreSQL, each with
    its own database, exactly as in production but for the process boundary."""

    def __init__(self, bootstrap: str, namespace: str, urls: dict[str, str]) -> None:
        self.bootstrap = bootstrap
        self.namespace = namespace
        self.urls = urls
        self.dbs: dict[str, Database] = {}
        self.apps: dict[str, FastAPI] = {}
        self.clients: dict[str, httpx.AsyncClient] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Platform:
        for service, url in self.urls.items():
            db = Database(url, pool_size=5)
            self.dbs[service] = db
            settings = settings_for(service, kafka_bootstrap_servers=self.bootstrap, kafka_namespace=self.namespace)
            app = create_app(service, settings, db)
            self.apps[service] = app
            self.clients[service] = await self._stack.enter_async_context(running(app))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()
        for db in self.dbs.values():
            await db.dispose()

    def topic(self, name: str) -> str:
        return f"{self.namespace}{name}"

    async def scalar(self, service: str, sql: str, **params: Any) -> Any:
        async with self.dbs[service].transaction() as session:
            return (await session.execute(text(sql), params)).scalar_one()
