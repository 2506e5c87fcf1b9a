"""Service settings (pydantic-settings), one env prefix per service: ``FILING_DATABASE_URL`` etc."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from shared.kafka import KafkaAccess

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"
DEV_PII_HMAC_SECRET = "dev-only-pii-hmac-secret"
DEV_PII_ENCRYPTION_SECRET = "dev-only-pii-encryption-secret"
# Kafka SCRAM passwords of the local broker's principals (devstack.kafka creates them). Every
# deployment that is not development sets its own; production refuses these.
DEV_KAFKA_ADMIN_PASSWORD = "dev-only-kafka-admin-password"
KAFKA_PRINCIPALS = ("filing", "inspection", "credit", "reporting")


def dev_kafka_password(principal: str) -> str:
    return f"dev-only-kafka-{principal}-password"


DEV_KAFKA_PASSWORDS = {DEV_KAFKA_ADMIN_PASSWORD, *(dev_kafka_password(p) for p in KAFKA_PRINCIPALS)}
_DEV_SECRETS = {DEV_JWT_SECRET, DEV_PII_HMAC_SECRET, DEV_PII_ENCRYPTION_SECRET, *DEV_KAFKA_PASSWORDS}


class ServiceSettings(BaseSettings):
    """Everything a service process needs. Subclasses set ``env_prefix`` and the service identity."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    port: int = 8000

    # None means "start/use the local embedded PostgreSQL" (run command, tests); production sets a URL.
    database_url: str | None = None
    db_pool_size: int = 10

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Every client authenticates (docs/security.md): SASL/SCRAM-SHA-512, over TLS where the
    # deployment has it (SASL_SSL, with the cluster CA in kafka_ssl_cafile). The principal is the
    # service's own (its ACLs: shared/kafka_access.py); empty username/password mean the local
    # broker's development principal, which production refuses.
    kafka_security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL"] = "SASL_PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: str = ""
    kafka_ssl_cafile: str | None = None
    # Prefixed to every topic and consumer group; tests use a unique namespace per test.
    kafka_namespace: str = ""
    topic_partitions: int = 6
    # one local broker: 1 and 1; a production cluster of three: 3 and 2
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int = Field(default=1, ge=1)

    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = Field(default=500, gt=0)
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_retry_backoff_seconds: float = Field(default=0.2, ge=0)
    consumer_session_timeout_ms: int = 10_000
    run_background_workers: bool = True  # relay + consumers inside the API process

    jwt_secret: str = DEV_JWT_SECRET
    # Key id of jwt_secret, sent in every token's header. Rotation: mint with a new id and secret,
    # move the old pair to jwt_previous_secrets until the last token it signed has expired.
    jwt_key_id: str = "k1"
    jwt_previous_secrets: dict[str, str] = Field(default_factory=dict)
    jwt_issuer: str = "gz-childcare-platform"
    jwt_audience: str = "gz-childcare-platform"
    pii_hmac_secret: str = DEV_PII_HMAC_SECRET
    pii_encryption_secret: str = DEV_PII_ENCRYPTION_SECRET
    # Key id of pii_encryption_secret, stored with every ciphertext. Rotation: a new id and secret,
    # the old pair moved to pii_previous_encryption_secrets; old rows stay readable (and can be
    # re-encrypted at leisure). pii_hmac_secret never rotates: person_ref must stay stable.
    pii_encryption_key_id: str = "k1"
    pii_previous_encryption_secrets: dict[str, str] = Field(default_factory=dict)

    log_level: str = "INFO"
    # every successful write leaves a row in the service's append-only audit_log table
    audit_writes: bool = True

    # Browser origins allowed to read this service's GET endpoints (CORS), e.g. the pages served by
    # the filing service at http://127.0.0.1:8001 calling the other services. Empty: no CORS headers.
    cors_origins: list[str] = Field(default_factory=list)
    # A directory of static pages to serve at /ui/ (the run command sets it for one service only).
    web_dir: str | None = None

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> ServiceSettings:
        if self.environment == "production":
            weak = [
                name
                for name in ("jwt_secret", "pii_hmac_secret", "pii_encryption_secret")
                if getattr(self, name) in _DEV_SECRETS or len(getattr(self, name)) < 32
            ]
            if weak:
                raise ValueError(f"production refuses development or short (<32 chars) secrets: {', '.join(weak)}")
            if not self.database_url:
                raise ValueError("production needs an explicit database_url")
        return self

    def kafka_access(self) -> KafkaAccess:
        """How this service reaches Kafka: the bootstrap servers and its own principal."""
        from shared.kafka import KafkaAccess

        return KafkaAccess(
            bootstrap=self.kafka_bootstrap_servers,
            username=self.kafka_username or self.service_name,
            password=self.kafka_password or dev_kafka_password(self.service_name),
            security_protocol=self.kafka_security_protocol,
            mechanism=self.kafka_sasl_mechanism,
            ssl_cafile=self.kafka_ssl_cafile,
        )

    @property
    def source(self) -> str:
        """CloudEvents ``source`` of everything this service emits."""
        return f"/services/{self.service_name}"
