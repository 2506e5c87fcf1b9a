"""The lag exporter (``python -m shared.lag_exporter``) against the real broker: it sees a consumer
group's lag from outside, while no member of the group runs, as the DESCRIBE-only ``monitor``
principal, which can read no record."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import urllib.request

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from prometheus_client.parser import text_string_to_metric_families

from devstack.kafka import LocalKafka, free_port
from shared.kafka_access import MONITOR_PRINCIPAL
from shared.lag_exporter import LagExporter
from shared.topics import FILING_EVENTS, qualified
from tests.ops.conftest import ROOT
from tests.support import admin_access, eventually, produce_raw


def lag_samples(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["consumer"], s.labels["topic"], s.labels["partition"]): s.value
        for f in text_string_to_metric_families(text)
        if f.name == "childcare_kafka_consumergroup_lag"
        for s in f.samples
    }


async def test_exporter_reports_the_lag_of_a_group_with_no_running_member(kafka: LocalKafka, namespace: str) -> None:
    filing = qualified(namespace, FILING_EVENTS)
    await produce_raw(kafka.bootstrap, filing, [(b"same-key", b"{}") for _ in range(12)])
    consumer = AIOKafkaConsumer(**admin_access(kafka.bootstrap).aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(filing, p) for p in range(3)])
    finally:
        await consumer.stop()
    (partition,) = [tp.partition for tp, end in ends.items() if end == 12]
    # the group "credit" finished 5 of them, then its service stopped (no member left)
    group = f"{namespace}childcare.credit"
    member = AIOKafkaConsumer(**admin_access(kafka.bootstrap).aiokafka(), group_id=group, enable_auto_commit=False)
    await member.start()
    try:
        member.assign([TopicPartition(filing, partition)])
        await member.commit({TopicPartition(filing, partition): OffsetAndMetadata(5, "")})
    finally:
        await member.stop()

    monitor = kafka.access(MONITOR_PRINCIPAL)
    exporter = LagExporter(monitor, namespace=namespace)
    try:
        assert await exporter.refresh()
        text = exporter.registry_text()
    finally:
        await exporter.close()
    lags = lag_samples(text)
    assert lags[("credit", filing, str(partition))] == 7
    # the group's other partitions of the topic, never committed on, count from their first record
    assert {p for (c, t, p) in lags if c == "credit" and t == filing} == {"0", "1", "2"}
    assert "childcare_kafka_up 1.0" in text

    # the monitor principal sees offsets, never a record
    reader = AIOKafkaConsumer(**monitor.aiokafka(), enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign([TopicPartition(filing, partition)])
        reader.seek(TopicPartition(filing, partition), 0)
        records: list[object] = []
        with contextlib.suppress(KafkaError):  # the broker refuses the fetch (TOPIC_AUTHORIZATION_FAILED)
            for _ in range(2):
                batch = await asyncio.wait_for(reader.getmany(timeout_ms=3000), 20)
                records += [r for rs in batch.values() for r in rs]
        assert records == []
    finally:
        await reader.stop()


async def test_exporter_command_serves_metrics_and_reports_an_unreachable_broker(
    kafka: LocalKafka, namespace: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "KAFKA_NAMESPACE": namespace,
        "LAG_EXPORTER_PORT": str(port),
        "LAG_EXPORTER_INTERVAL_SECONDS": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.lag_exporter", cwd=ROOT, env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:

        async def reports_kafka_down() -> bool:
            try:
                text = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return False
            return "childcare_kafka_up 0.0" in text

        await eventually(reports_kafka_down, within=60, every=0.5)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())
