"""Kafka clients configured once: who connects (``KafkaAccess``), the idempotent producer, waiting
for the topics the admin principal created, and a readiness probe.

Services never create topics or ACLs: their principals may not (docs/security.md). The admin
principal does that, once per deployment (``shared.kafka_access.provision``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger(__name__)

# The SCRAM password of the local broker's admin principal (devstack.kafka creates it); production
# refuses it (shared.settings' development secrets).
DEV_KAFKA_ADMIN_PASSWORD = "dev-only-kafka-admin-password"


@dataclass(frozen=True)
class KafkaAccess:
    """The bootstrap servers and the SASL/SCRAM principal a client connects as."""

    bootstrap: str
    username: str
    password: str
    security_protocol: str = "SASL_PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    ssl_cafile: str | None = None

    def __repr__(self) -> str:  # never print the password
        return f"KafkaAccess(bootstrap={self.bootstrap!r}, username={self.username!r})"

    def as_principal(self, username: str, password: str) -> KafkaAccess:
        return KafkaAccess(self.bootstrap, username, password, self.security_protocol, self.mechanism, self.ssl_cafile)

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }
        if self.security_protocol == "SASL_SSL":
            options["ssl_context"] = ssl.create_default_context(cafile=self.ssl_cafile)
        return options

    def librdkafka(self) -> dict[str, Any]:
        """The same, for confluent-kafka (librdkafka) clients: the admin tooling."""
        options: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol.lower(),
            "sasl.mechanism": self.mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password,
            # warnings and errors only: librdkafka's informational lines go to stderr unbidden
            "log_level": 4,
        }
        if self.ssl_cafile:
            options["ssl.ca.location"] = self.ssl_cafile
        return options


def operator_access_from_env() -> KafkaAccess:
    """The operator's tools (``shared.group_lag``, the runbook's scripts): ``BOOTSTRAP`` (default the
    local broker), ``KAFKA_USERNAME`` (default ``admin``), ``KAFKA_PASSWORD`` (default the local
    broker's development admin password), ``KAFKA_SECURITY_PROTOCOL`` and ``KAFKA_SSL_CAFILE``."""
    return KafkaAccess(
        os.environ.get("BOOTSTRAP", "127.0.0.1:9092"),
        os.environ.get("KAFKA_USERNAME", "admin"),
        os.environ.get("KAFKA_PASSWORD", DEV_KAFKA_ADMIN_PASSWORD),
        security_protocol=os.environ.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        ssl_cafile=os.environ.get("KAFKA_SSL_CAFILE") or None,
    )


def make_producer(access: KafkaAccess, *, client_id: str, request_timeout_ms: int = 15_000) -> AIOKafkaProducer:
    # enable_idempotence forces acks=all and lets the broker drop retried duplicates; aiokafka's
    # default is acks=1 without idempotence, which can lose or double records on a broker restart.
    return AIOKafkaProducer(
        **access.aiokafka(),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        # also how long a record may wait in the producer for delivery (aiokafka expires batches after it)
        request_timeout_ms=request_timeout_ms,
        retry_backoff_ms=200,
    )


async def missing_topics(access: KafkaAccess, names: list[str], *, wait_seconds: float = 5.0) -> list[str]:
    """Which of ``names`` this principal cannot see (not created yet, or not allowed to describe)."""
    admin = AIOKafkaAdminClient(**access.aiokafka(), request_timeout_ms=int(wait_seconds * 1000))
    try:
        await asyncio.wait_for(admin.start(), wait_seconds)
        existing = set(await asyncio.wait_for(admin.list_topics(), wait_seconds))
        return [n for n in names if n not in existing]
    finally:
        try:
            await admin.close()
        except Exception:
            log.debug("admin close failed", exc_info=True)


async def kafka_reachable(access: KafkaAccess, wait_seconds: float = 3.0) -> bool:
    """The broker answers and accepts this principal's credentials."""
    try:
        await missing_topics(access, [], wait_seconds=wait_seconds)
        return True
    except Exception:
        return False
