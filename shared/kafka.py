"""Kafka clients configured once: the idempotent producer, topic creation, a readiness probe."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.topics import TopicSpec, dead_letter_topic, qualified

log = logging.getLogger(__name__)


def make_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    # enable_idempotence forces acks=all and lets the broker drop retried duplicates; aiokafka's
    # default is acks=1 without idempotence, which can lose or double records on a broker restart.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15_000,
        retry_backoff_ms=200,
    )


async def ensure_topics(
    bootstrap: str,
    specs: list[TopicSpec],
    *,
    namespace: str,
    dead_letter_for: list[str],
    replication_factor: int = 1,
) -> None:
    """Create every topic this service writes or reads (idempotent; existing topics are left alone)."""
    wanted = [
        NewTopic(qualified(namespace, s.name), s.partitions, s.replication_factor, topic_configs=s.config)
        for s in specs
    ]
    wanted += [
        NewTopic(dead_letter_topic(namespace, c), 1, replication_factor, topic_configs={"retention.ms": "-1"})
        for c in dead_letter_for
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another service created it between list and create
            # topic metadata propagates asynchronously; wait until every topic is listed
            for _ in range(50):
                if {t.name for t in wanted} <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def kafka_reachable(bootstrap: str, wait_seconds: float = 3.0) -> bool:
    timeout = wait_seconds
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
        return True
    except Exception:
        return False
    finally:
        try:
            await admin.close()
        except Exception:
            log.debug("admin close failed", exc_info=True)
