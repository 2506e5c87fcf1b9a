"""A consumer group's lag per partition, as the broker sees it: committed offset vs end offset for
every partition of the group's topics, including partitions the group never committed on (their lag
counts from the earliest record kept, where the group starts: ``auto_offset_reset="earliest"``).

``python -m shared.group_lag <group> <topic>[,<topic>...]`` prints one line per partition (the
runbook's "Consumer-group lag"). Connects as ``KAFKA_USERNAME`` (default the admin principal) with
``KAFKA_PASSWORD`` (default the development admin password) to ``BOOTSTRAP`` (default 127.0.0.1:9092);
``KAFKA_SECURITY_PROTOCOL=SASL_SSL`` with ``KAFKA_SSL_CAFILE`` (the cluster CA) for a production cluster.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.kafka import KafkaAccess, operator_access_from_env


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    start: int
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed if self.committed is not None else self.start)


async def group_lag(kafka: KafkaAccess, group: str, topics: list[str]) -> list[PartitionLag]:
    admin = AIOKafkaAdminClient(**kafka.aiokafka())
    await admin.start()
    try:
        consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
        await consumer.start()
        try:
            return await partition_lags(admin, consumer, group, topics)
        finally:
            await consumer.stop()
    finally:
        await admin.close()


async def partition_lags(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str, topics: list[str]
) -> list[PartitionLag]:
    """``group_lag`` on clients the caller keeps (the lag exporter reads every few seconds)."""
    committed = await admin.list_consumer_group_offsets(group)
    described = {
        t["topic"]: sorted(p["partition"] for p in t["partitions"]) for t in await admin.describe_topics(topics)
    }
    tps = [TopicPartition(t, p) for t in topics for p in described.get(t, [])]
    starts = await consumer.beginning_offsets(tps)
    ends = await consumer.end_offsets(tps)
    rows = []
    for tp in tps:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else None
        rows.append(PartitionLag(tp.topic, tp.partition, done, starts[tp], ends[tp]))
    return rows


async def _main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m shared.group_lag <group> <topic>[,<topic>...]\n")
        return 2
    kafka = operator_access_from_env()
    rows = await group_lag(kafka, argv[0], [t for t in argv[1].split(",") if t])
    for r in rows:
        committed = "none" if r.committed is None else str(r.committed)
        sys.stdout.write(f"{r.topic}[{r.partition}] committed={committed} end={r.end} lag={r.lag}\n")
    sys.stdout.write(f"total lag={sum(r.lag for r in rows)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main(sys.argv[1:])))
