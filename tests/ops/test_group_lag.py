"""The runbook's consumer-group lag (``python -m shared.group_lag``) against the real broker: every
partition of the group's topics is listed, including those the group never committed on."""

from __future__ import annotations

import asyncio
import os
import sys

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from devstack.kafka import LocalKafka
from shared.group_lag import group_lag
from shared.topics import CREDIT_EVENTS, FILING_EVENTS, qualified
from tests.ops.conftest import ROOT
from tests.support import admin_access, produce_raw, read_topic


async def test_lag_covers_partitions_the_group_never_committed_on(kafka: LocalKafka, namespace: str) -> None:
    access = admin_access(kafka.bootstrap)
    filing, credit = qualified(namespace, FILING_EVENTS), qualified(namespace, CREDIT_EVENTS)
    await produce_raw(kafka.bootstrap, filing, [(f"key-{n}".encode(), b"{}") for n in range(30)])
    records = await read_topic(kafka.bootstrap, filing)
    per_partition = {p: sum(r.partition == p for r in records) for p in range(3)}
    assert all(per_partition.values()), "every partition holds records"
    group = f"{namespace}childcare.lagtest"
    # The group commits on partition 0 only (one record short of its end).
    consumer = AIOKafkaConsumer(**access.aiokafka(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(filing, 0)])
        await consumer.commit({TopicPartition(filing, 0): OffsetAndMetadata(per_partition[0] - 1, "")})
    finally:
        await consumer.stop()

    rows = await group_lag(access, group, [filing, credit])
    assert [(r.topic, r.partition) for r in rows] == [(t, p) for t in (filing, credit) for p in range(3)]
    by_partition = {(r.topic, r.partition): r for r in rows}
    assert (by_partition[filing, 0].committed, by_partition[filing, 0].lag) == (per_partition[0] - 1, 1)
    for p in (1, 2):
        assert (by_partition[filing, p].committed, by_partition[filing, p].lag) == (None, per_partition[p])
        assert (by_partition[credit, p].committed, by_partition[credit, p].lag) == (None, 0)
    total = 1 + per_partition[1] + per_partition[2]

    # The command the runbook shows
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.group_lag",
        group,
        f"{filing},{credit}",
        cwd=ROOT,
        env={**os.environ, "BOOTSTRAP": kafka.bootstrap},
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    out = stdout.decode()
    assert f"{filing}[1] committed=none end={per_partition[1]} lag={per_partition[1]}" in out
    assert f"{filing}[0] committed={per_partition[0] - 1} end={per_partition[0]} lag=1" in out
    assert out.rstrip().endswith(f"total lag={total}")
