"""Consumer-group lag from outside the consumers: the platform's own small Prometheus exporter.

Every ``LAG_EXPORTER_INTERVAL_SECONDS`` it lists the consumer groups under ``<namespace>childcare.``
through Kafka's admin API and, for each, reads the committed offsets against the end offsets of
every partition of the topics the group has committed on (``shared.group_lag``: partitions the
group never committed on count from their first record). It needs no service to be running, so a
stopped or hung consumer's lag keeps growing here while the consumer's own ``childcare_consumer_lag``
vanishes or freezes. ``ConsumerLagHigh`` is written on it (deploy/prometheus/rules/platform.yml).

Why our own: the maintained exporters cannot be had here: danielqsj/kafka_exporter and
redpanda-data/kminion are refused by the Go module proxy, kafka-lag-exporter and Burrow are not
published to a registry we can use, and the PyPI ``prometheus-kafka-consumer-group-exporter``
(last release 2020) reads the internal ``__consumer_offsets`` topic, which needs READ on it.

It connects as the ``monitor`` principal, which may only DESCRIBE the platform's topics and groups
(``shared.kafka_access.MONITOR_PRINCIPAL``; docker-compose's kafka-monitor-setup): it sees offsets,
never a record. A group that has never committed on a topic is not seen on that topic (nothing on
the broker says it reads it); the services' consumers commit as soon as they finish a batch.

    python -m shared.lag_exporter

Environment: ``KAFKA_BOOTSTRAP_SERVERS`` (default 127.0.0.1:9092), ``KAFKA_USERNAME`` (default
``monitor``), ``KAFKA_PASSWORD`` (default the local broker's development password),
``KAFKA_SECURITY_PROTOCOL`` and ``KAFKA_SSL_CAFILE``, ``KAFKA_NAMESPACE`` (default none),
``LAG_EXPORTER_HOST`` (default 127.0.0.1) and ``LAG_EXPORTER_PORT`` (default 9308),
``LAG_EXPORTER_INTERVAL_SECONDS`` (default 15).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Gauge, generate_latest, start_http_server

from shared.group_lag import PartitionLag, partition_lags
from shared.kafka import KafkaAccess
from shared.kafka_access import MONITOR_PRINCIPAL
from shared.settings import dev_kafka_password
from shared.topics import consumer_group

log = logging.getLogger(__name__)

# How long one round of reads may take before the broker counts as unreachable.
READ_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class GroupLag:
    group: str
    consumer: str  # the platform's consumer name: the group without <namespace>childcare.
    partitions: list[PartitionLag]


class LagExporter:
    """Reads every group's lag and keeps it in gauges on its own registry."""

    def __init__(self, kafka: KafkaAccess, *, namespace: str = "") -> None:
        self.kafka = kafka
        self.prefix = consumer_group(namespace, "")
        self.registry = CollectorRegistry()
        r = self.registry
        self.lag = Gauge(
            "childcare_kafka_consumergroup_lag",
            "Records behind the partition end, from the group's committed offset (the broker's view).",
            ["group", "consumer", "topic", "partition"],
            registry=r,
        )
        self.kafka_up = Gauge(
            "childcare_kafka_up", "1 when the last read of the consumer groups' offsets succeeded.", registry=r
        )
        self.last_read = Gauge(
            "childcare_kafka_lag_last_read_timestamp_seconds",
            "When the consumer groups' offsets were last read successfully.",
            registry=r,
        )
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def read(self) -> list[GroupLag]:
        admin, consumer = await self._clients()
        groups = sorted(str(g[0]) for g in await admin.list_consumer_groups() if str(g[0]).startswith(self.prefix))
        found = []
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            topics = sorted({tp.topic for tp, meta in committed.items() if meta.offset >= 0})
            rows = await partition_lags(admin, consumer, group, topics) if topics else []
            found.append(GroupLag(group, group[len(self.prefix) :], rows))
        return found

    async def refresh(self) -> bool:
        """One round: the gauges hold what the broker says now; on failure they hold nothing (a stale
        lag would keep an alert firing, or silence one) and ``childcare_kafka_up`` is 0."""
        try:
            groups = await asyncio.wait_for(self.read(), READ_TIMEOUT_SECONDS)
        except Exception as exc:  # the broker is away, or refuses us: report it, keep trying
            log.warning("reading the consumer groups' offsets failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            self.lag.clear()
            self.kafka_up.set(0)
            await self.close()  # fresh connections next round
            return False
        self.lag.clear()
        for g in groups:
            for p in g.partitions:
                self.lag.labels(group=g.group, consumer=g.consumer, topic=p.topic, partition=str(p.partition)).set(
                    p.lag
                )
        self.kafka_up.set(1)
        self.last_read.set(time.time())
        return True

    def registry_text(self) -> str:
        return generate_latest(self.registry).decode()

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**self.kafka.aiokafka(), request_timeout_ms=int(READ_TIMEOUT_SECONDS * 1000))
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                **self.kafka.aiokafka(),
                enable_auto_commit=False,
                request_timeout_ms=int(READ_TIMEOUT_SECONDS * 1000),
            )
            await consumer.start()
            self._consumer = consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        consumer, self._consumer = self._consumer, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.close(), 5)
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 5)


def access_from_env() -> KafkaAccess:
    env = os.environ
    return KafkaAccess(
        env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        env.get("KAFKA_USERNAME", MONITOR_PRINCIPAL),
        env.get("KAFKA_PASSWORD") or dev_kafka_password(MONITOR_PRINCIPAL),
        security_protocol=env.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        ssl_cafile=env.get("KAFKA_SSL_CAFILE") or None,
    )


async def serve(exporter: LagExporter, interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await exporter.refresh()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    await exporter.close()


async def _main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    env = os.environ
    exporter = LagExporter(access_from_env(), namespace=env.get("KAFKA_NAMESPACE", ""))
    host, port = env.get("LAG_EXPORTER_HOST", "127.0.0.1"), int(env.get("LAG_EXPORTER_PORT", "9308"))
    start_http_server(port, addr=host, registry=exporter.registry)
    log.info("lag exporter serving /metrics", extra={"address": f"{host}:{port}"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(exporter, float(env.get("LAG_EXPORTER_INTERVAL_SECONDS", "15")), stop)


if __name__ == "__main__":
    asyncio.run(_main())
