"""Topic definitions: the names, partitions and configs every environment creates.

``namespace`` prefixes every name (empty in production; unique per test so tests never share topics).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FILING_EVENTS = "childcare.filing.events"
INSPECTION_EVENTS = "childcare.inspection.events"
CREDIT_EVENTS = "childcare.credit.events"
LEDGER_CHANGES = "childcare.ledger.changes"

DOMAIN_TOPICS = (FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    replication_factor: int = 1


def topic_specs(
    default_partitions: int, *, replication_factor: int = 1, min_insync_replicas: int = 1
) -> list[TopicSpec]:
    # Domain topics are keyed by institution id, so partitions only spread load and keep each
    # institution's history in order. The ledger is one total order: exactly one partition.
    # Production runs three brokers with replication 3 and min.insync.replicas 2, so acks=all means
    # two copies; one local broker can only have 1 and 1.
    keep_forever = {"retention.ms": "-1", "min.insync.replicas": str(min_insync_replicas)}
    rf = replication_factor
    return [
        TopicSpec(FILING_EVENTS, default_partitions, keep_forever, rf),
        TopicSpec(INSPECTION_EVENTS, default_partitions, keep_forever, rf),
        TopicSpec(CREDIT_EVENTS, default_partitions, keep_forever, rf),
        TopicSpec(LEDGER_CHANGES, 1, keep_forever, rf),
    ]


def qualified(namespace: str, name: str) -> str:
    return f"{namespace}{name}"


def dead_letter_topic(namespace: str, consumer: str) -> str:
    return f"{namespace}childcare.dlq.{consumer}"


def consumer_group(namespace: str, consumer: str) -> str:
    return f"{namespace}childcare.{consumer}"
