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


def topic_specs(default_partitions: int) -> list[TopicSpec]:
    # Domain topics are keyed by institution id, so partitions only spread load and keep each
    # institution's history in order. The ledger is one total order: exactly one partition.
    keep_forever = {"retention.ms": "-1", "min.insync.replicas": "1"}
    return [
        TopicSpec(FILING_EVENTS, default_partitions, keep_forever),
        TopicSpec(INSPECTION_EVENTS, default_partitions, keep_forever),
        TopicSpec(CREDIT_EVENTS, default_partitions, keep_forever),
        TopicSpec(LEDGER_CHANGES, 1, keep_forever),
    ]


def qualified(namespace: str, name: str) -> str:
    return f"{namespace}{name}"


def dead_letter_topic(namespace: str, consumer: str) -> str:
    return f"{namespace}childcare.dlq.{consumer}"


def consumer_group(namespace: str, consumer: str) -> str:
    return f"{namespace}childcare.{consumer}"
