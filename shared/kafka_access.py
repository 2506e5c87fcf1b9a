"""Who may do what on Kafka: one principal per service, its ACLs, and the admin step that creates
topics, SCRAM users and ACLs (docs/security.md).

A service writes only the topic it owns and its own dead-letter topics, reads only what it consumes
and uses only its own consumer groups. The broker runs KRaft's ``StandardAuthorizer`` with
``allow.everyone.if.no.acl.found=false``: what is not granted here is refused. ``TOPIC_OWNERS`` also
drives the consumers' defence in depth: an event whose CloudEvents ``source`` is not the owner of
the topic it arrived on is dead-lettered (``source_mismatch``).

``python -m shared.kafka_access provision`` runs this as the admin principal (docker-compose's
one-shot ``kafka-setup``; Kubernetes uses Strimzi ``KafkaTopic``/``KafkaUser`` resources instead).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.kafka import KafkaAccess
from shared.topics import (
    CREDIT_EVENTS,
    FILING_EVENTS,
    INSPECTION_EVENTS,
    LEDGER_CHANGES,
    consumer_group,
    dead_letter_topic,
    qualified,
    topic_specs,
)

ADMIN_PRINCIPAL = "admin"
# The lag exporter's principal (shared.lag_exporter): DESCRIBE on the platform's topics and consumer
# groups, by prefix, and nothing else: it reads offsets and lag, never a record, and writes nothing.
# docker-compose's kafka-monitor-setup grants the same with Kafka's own tools.
MONITOR_PRINCIPAL = "monitor"


@dataclass(frozen=True)
class Principal:
    name: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    consumers: tuple[str, ...]  # each has the group childcare.<c> and the dead-letter topic childcare.dlq.<c>


PRINCIPALS: dict[str, Principal] = {
    "filing": Principal("filing", (FILING_EVENTS,), (CREDIT_EVENTS, INSPECTION_EVENTS), ("filing",)),
    "inspection": Principal("inspection", (INSPECTION_EVENTS,), (FILING_EVENTS, CREDIT_EVENTS), ("inspection",)),
    "credit": Principal("credit", (CREDIT_EVENTS,), (FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS), ("credit",)),
    # reporting reads its own ledger topic back when it rebuilds its projections
    "reporting": Principal(
        "reporting",
        (LEDGER_CHANGES,),
        (FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS, LEDGER_CHANGES),
        ("reporting",),
    ),
}

# The one service allowed to publish on each topic, as its CloudEvents source.
TOPIC_OWNERS: dict[str, str] = {topic: f"/services/{p.name}" for p in PRINCIPALS.values() for topic in p.writes}


def owner_source(namespace: str, topic: str) -> str | None:
    """The source that owns ``topic`` (qualified by ``namespace``); None for a topic we do not own."""
    if namespace and topic.startswith(namespace):
        topic = topic[len(namespace) :]
    return TOPIC_OWNERS.get(topic)


def source_allowed(namespace: str, topic: str, source: str) -> bool:
    """Whether an event from ``source`` may stand on ``topic``: only its owner publishes there."""
    owner = owner_source(namespace, topic)
    return owner is None or owner == source


def all_consumers() -> list[str]:
    return [c for p in PRINCIPALS.values() for c in p.consumers]


def acl_bindings(namespace: str, principals: Mapping[str, Principal] = PRINCIPALS) -> list[object]:
    # the package re-exports these from private modules without __all__; import them where they live
    from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
    from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

    def allow(resource: ResourceType, name: str, user: str, operation: AclOperation) -> AclBinding:
        return AclBinding(
            resource, name, ResourcePatternType.LITERAL, f"User:{user}", "*", operation, AclPermissionType.ALLOW
        )

    bindings: list[object] = []
    for p in principals.values():
        # WRITE implies DESCRIBE; an idempotent producer needs nothing more since Kafka 3.0 (KIP-679)
        for topic in p.writes:
            bindings.append(allow(ResourceType.TOPIC, qualified(namespace, topic), p.name, AclOperation.WRITE))
        for consumer in p.consumers:
            bindings.append(
                allow(ResourceType.TOPIC, dead_letter_topic(namespace, consumer), p.name, AclOperation.WRITE)
            )
            bindings.append(allow(ResourceType.GROUP, consumer_group(namespace, consumer), p.name, AclOperation.READ))
        for topic in p.reads:  # READ implies DESCRIBE
            bindings.append(allow(ResourceType.TOPIC, qualified(namespace, topic), p.name, AclOperation.READ))
    return bindings


def monitor_acl_bindings(namespace: str) -> list[object]:
    """DESCRIBE on every topic and consumer group under ``<namespace>childcare.`` (prefixed): enough
    for the committed offsets (OffsetFetch), the partitions' ends (ListOffsets) and listing the groups."""
    from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
    from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

    prefix = qualified(namespace, "childcare.")
    return [
        AclBinding(
            resource,
            prefix,
            ResourcePatternType.PREFIXED,
            f"User:{MONITOR_PRINCIPAL}",
            "*",
            AclOperation.DESCRIBE,
            AclPermissionType.ALLOW,
        )
        for resource in (ResourceType.TOPIC, ResourceType.GROUP)
    ]


def _wait(futures: Mapping[Any, Any], *, ignore: tuple[str, ...] = ()) -> None:
    from confluent_kafka import KafkaException

    for future in futures.values():
        try:
            future.result(30)
        except KafkaException as exc:
            if exc.args and getattr(exc.args[0], "name", lambda: "")() in ignore:
                continue
            raise


def upsert_users(admin_access: KafkaAccess, passwords: Mapping[str, str]) -> None:
    """Create or re-key SCRAM-SHA-512 users (a rotation is an upsert with the new password)."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.admin._scram import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    client = AdminClient(admin_access.librdkafka())
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode(), secrets.token_bytes(32)
        )
        for user, password in passwords.items()
    ]
    if upserts:
        _wait(client.alter_user_scram_credentials(upserts))


def provision(
    admin_access: KafkaAccess,
    *,
    namespace: str = "",
    partitions: int = 6,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    passwords: Mapping[str, str] | None = None,
    extra_dead_letters: tuple[str, ...] = (),
    monitor: bool = False,
) -> None:
    """As the admin principal: every topic (domain, ledger, dead letters), the services' ACLs and,
    when given, their SCRAM users (and the monitor's when ``passwords`` names it); with ``monitor``
    the lag exporter's DESCRIBE-only ACLs too. Idempotent: what exists is left alone."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    if passwords:
        upsert_users(admin_access, passwords)
    client = AdminClient(admin_access.librdkafka())
    specs = topic_specs(partitions, replication_factor=replication_factor, min_insync_replicas=min_insync_replicas)
    wanted = [
        NewTopic(qualified(namespace, s.name), s.partitions, s.replication_factor, config=s.config) for s in specs
    ]
    wanted += [
        NewTopic(
            dead_letter_topic(namespace, c),
            1,
            replication_factor,
            config={"retention.ms": "-1", "min.insync.replicas": str(min_insync_replicas)},
        )
        for c in [*all_consumers(), *extra_dead_letters]
    ]
    existing = set(client.list_topics(timeout=30).topics)
    missing = [t for t in wanted if t.topic not in existing]
    if missing:
        _wait(client.create_topics(missing, operation_timeout=30), ignore=("TOPIC_ALREADY_EXISTS",))
    bindings = acl_bindings(namespace) + (monitor_acl_bindings(namespace) if monitor else [])
    _wait(client.create_acls(bindings))  # type: ignore[arg-type]
    # Topics and ACLs reach the broker's metadata cache and authorizer asynchronously: wait until
    # every topic is listed and every ACL is in force, so a client started next is not refused.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if {t.topic for t in wanted} <= set(client.list_topics(timeout=30).topics) and _in_force(client, bindings):
            return
        time.sleep(0.05)
    raise RuntimeError("topics and ACLs were created but are not in force after 30 s")


def _in_force(client: Any, bindings: list[Any]) -> bool:
    """Whether the broker's authorizer knows every binding (one exact-match describe each, in parallel)."""
    from confluent_kafka.admin._acl import AclBindingFilter

    futures = [
        client.describe_acls(
            AclBindingFilter(
                b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
            )
        )
        for b in bindings
    ]
    return all(future.result(30) for future in futures)


async def provision_async(admin_access: KafkaAccess, **kwargs: object) -> None:
    await asyncio.to_thread(provision, admin_access, **kwargs)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Create topics, SCRAM users and ACLs as the Kafka admin principal.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("provision")
    run.add_argument("--namespace", default=os.environ.get("KAFKA_NAMESPACE", ""))
    run.add_argument("--partitions", type=int, default=int(os.environ.get("KAFKA_TOPIC_PARTITIONS", "6")))
    run.add_argument("--replication-factor", type=int, default=int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1")))
    run.add_argument("--min-insync-replicas", type=int, default=int(os.environ.get("KAFKA_MIN_INSYNC_REPLICAS", "1")))
    args = parser.parse_args(argv)
    env = os.environ
    admin = KafkaAccess(
        bootstrap=env["KAFKA_BOOTSTRAP_SERVERS"],
        username=env.get("KAFKA_ADMIN_USERNAME", ADMIN_PRINCIPAL),
        password=env["KAFKA_ADMIN_PASSWORD"],
        security_protocol=env.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        ssl_cafile=env.get("KAFKA_SSL_CAFILE") or None,
    )
    # Each service's password by reference: <SERVICE>_KAFKA_PASSWORD, the same variable the service reads.
    passwords = {name: env[f"{name.upper()}_KAFKA_PASSWORD"] for name in PRINCIPALS}
    provision(
        admin,
        namespace=args.namespace,
        partitions=args.partitions,
        replication_factor=args.replication_factor,
        min_insync_replicas=args.min_insync_replicas,
        passwords=passwords,
    )
    print(f"kafka: topics, users and ACLs provisioned for {', '.join(PRINCIPALS)}")  # noqa: T201


if __name__ == "__main__":
    main()
