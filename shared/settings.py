"""Service settings (pydantic-settings), one env prefix per service: ``FILING_DATABASE_URL`` etc."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The Kafka client configuration is below the settings (shared.kafka imports no settings), so this
# module imports it directly: neither imports the other late to dodge an import cycle.
from shared.kafka import DEV_KAFKA_ADMIN_PASSWORD as DEV_KAFKA_ADMIN_PASSWORD
from shared.kafka import KafkaAccess

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"
DEV_PII_HMAC_SECRET = "dev-only-pii-hmac-secret"
DEV_PII_ENCRYPTION_SECRET = "dev-only-pii-encryption-secret"
# Kafka SCRAM passwords of the local broker's principals (devstack.kafka creates them; the admin's is
# DEV_KAFKA_ADMIN_PASSWORD). Every deployment that is not development sets its own; production
# refuses these.
KAFKA_PRINCIPALS = ("filing", "inspection", "credit", "reporting")


def dev_kafka_password(principal: str) -> str:
    return f"dev-only-kafka-{principal}-password"


# The local PostgreSQL's role passwords are dev-only-db-<role>-password (devstack.postgres); a
# database URL holding one is refused in production like any other development secret.
DEV_DATABASE_PASSWORD_PREFIX = "dev-only-db-"
DEV_KAFKA_PASSWORDS = {DEV_KAFKA_ADMIN_PASSWORD, *(dev_kafka_password(p) for p in KAFKA_PRINCIPALS)}
# Shortest secret production accepts (each is a key or a password an attacker could try offline).
MIN_SECRET_LENGTH = 32
_DEV_SECRETS = {DEV_JWT_SECRET, DEV_PII_HMAC_SECRET, DEV_PII_ENCRYPTION_SECRET, *DEV_KAFKA_PASSWORDS}


class ServiceSettings(BaseSettings):
    """Everything a service process needs. Subclasses set ``env_prefix`` and the service identity."""

    # hide_input_in_errors: a validation error would otherwise print the input, secrets included
    # (pydantic truncates it, which still leaves parts of them in a log).
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True, hide_input_in_errors=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    port: int = 8000

    # None means "start/use the local embedded PostgreSQL" (run command, tests); production sets a URL.
    database_url: str | None = None
    db_pool_size: int = 10
    # --- timeouts: nothing waits unbounded (docs/operations.md, "Timeouts") --------------------------
    # Server side, per connection: a statement running longer, or waiting longer for a lock, is
    # cancelled (0 = no limit). A request whose statement is cancelled answers 503 database_unavailable.
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    db_lock_timeout_ms: int = Field(default=10_000, ge=0)
    # Client side: waiting for a free pooled connection, for a new connection, and for any answer of
    # the server (a hung or unreachable server never cancels anything itself).
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    db_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    db_command_timeout_seconds: float = Field(default=40.0, gt=0)

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
    # Published outbox rows older than this are deleted (shared.retention); unpublished ones never.
    outbox_retention_seconds: float = Field(default=7 * 86_400, gt=0)
    outbox_prune_interval_seconds: float = Field(default=3_600, gt=0)
    # How long the deployment's topics keep a record: their retention.ms plus segment.ms (Kafka
    # deletes whole segments, so a record can outlive retention.ms by up to one segment). -1: forever,
    # which is how shared.topics creates them.
    kafka_topic_retention_ms: int = Field(default=-1, ge=-1)
    # Inbox ids older than this are deleted by the inbox_prune job (shared.retention); None: never.
    # An id must outlive every record that could deliver its event again (a replay, a group reset),
    # so this is refused unless the topics' retention is finite and no longer than it.
    inbox_retention_seconds: float | None = Field(default=None, gt=0)
    inbox_prune_interval_seconds: float = Field(default=3_600, gt=0)
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_retry_backoff_seconds: float = Field(default=0.2, ge=0)
    consumer_session_timeout_ms: int = 10_000
    # Every Kafka request (metadata, produce, fetch) and, for the outbox relay, the delivery of a
    # batch: a publish not acknowledged within it fails, the rows stay unpublished and are retried.
    kafka_request_timeout_ms: int = Field(default=15_000, ge=1000)
    kafka_delivery_timeout_seconds: float = Field(default=30.0, gt=0)
    # The consumers' own: every request of a consumer (fetch, offset commit, group join, metadata),
    # longer than the session timeout (a join may be held by the broker that long). Their
    # dead-letter producer uses the two above.
    kafka_consumer_request_timeout_ms: int = Field(default=30_000, ge=1000)
    run_background_workers: bool = True  # relay + consumers inside the API process

    jwt_secret: str = DEV_JWT_SECRET
    # Key id of jwt_secret, sent in every token's header. Rotation: mint with a new id and secret,
    # move the old pair to jwt_previous_secrets until the last token it signed has expired.
    jwt_key_id: str = "k1"
    jwt_previous_secrets: dict[str, str] = Field(default_factory=dict)
    jwt_issuer: str = "gz-childcare-platform"
    jwt_audience: str = "gz-childcare-platform"
    # HS256 development tokens (signed with jwt_secret by `./dev token`, the demo loader and the
    # tests): None = accepted except in production, which refuses true. Officers sign in through
    # the identity provider below.
    jwt_dev_tokens: bool | None = None
    # --- OpenID Connect sign-in (shared/oidc.py, docs/security.md) ----------------------------------
    # The identity provider's issuer URL: its discovery document (/.well-known/openid-configuration)
    # names the JWKS whose keys sign the access tokens. None: no OIDC tokens are accepted.
    oidc_issuer: str | None = None
    # The access tokens' `aud` (the platform as the provider's resource server).
    oidc_audience: str = "urn:gz-childcare:platform"
    oidc_algorithms: list[Literal["RS256", "ES256"]] = ["RS256", "ES256"]  # pydantic copies the default
    # Where roles, districts and the display name are in the token: a claim name, or a dotted path
    # into nested objects (Keycloak: "realm_access.roles"). Roles the platform does not know are ignored.
    oidc_roles_claim: str = "roles"
    oidc_districts_claim: str = "districts"
    oidc_name_claim: str = "name"
    # Clock skew tolerated on exp, nbf and iat.
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # The JWKS is refetched when older than this, and at most once per refetch interval for a
    # token whose `kid` it lacks (a rotated key is picked up; random kids cannot hammer the provider).
    oidc_jwks_cache_seconds: float = Field(default=3_600, gt=0)
    oidc_jwks_refetch_interval_seconds: float = Field(default=30, ge=0)
    oidc_http_timeout_seconds: float = Field(default=5, gt=0)
    pii_hmac_secret: str = DEV_PII_HMAC_SECRET
    pii_encryption_secret: str = DEV_PII_ENCRYPTION_SECRET
    # Key id of pii_encryption_secret, stored with every ciphertext. Rotation: a new id and secret,
    # the old pair moved to pii_previous_encryption_secrets; old rows stay readable (and can be
    # re-encrypted at leisure). pii_hmac_secret never rotates: person_ref must stay stable.
    pii_encryption_key_id: str = "k1"
    pii_previous_encryption_secrets: dict[str, str] = Field(default_factory=dict)

    log_level: str = "INFO"
    # Data-sharing grants (数据共享授权, shared/grants.yaml): what each agency may read, in the ledger
    # and in every other answer an agency may ask for. Every service reads the same file.
    grants_file: Path = Path(__file__).resolve().parent / "grants.yaml"
    # every successful write leaves a row in the service's append-only audit_log table
    audit_writes: bool = True

    # Browser origins allowed to read this service's GET endpoints (CORS), e.g. the pages served by
    # the filing service at http://127.0.0.1:8001 calling the other services. Empty: no CORS headers.
    cors_origins: list[str] = Field(default_factory=list)
    # A directory of static pages to serve at /ui/ (the run command sets it for one service only).
    web_dir: str | None = None

    # --- hostile input (shared/edge.py, docs/security.md) ------------------------------------------
    # Largest request body a route reads (413 before reading it); document uploads have their own.
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # All request headers together (431), and the bearer token alone (401 token_too_large).
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    max_token_bytes: int = Field(default=4096, ge=256)
    # Longest a token may be valid (exp - iat); a longer-lived one is refused (401 token_lifetime).
    jwt_max_lifetime_seconds: int = Field(default=24 * 3600, ge=60)
    # Proxies whose X-Forwarded-For is believed (addresses or networks, e.g. ["10.0.0.0/8"]). Empty:
    # the header is ignored and the client is the connection's peer.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Every endpoint that needs no login: per client address, a burst and a refill per minute
    # (in process memory: each replica keeps its own allowance).
    public_rate_burst: int = Field(default=600, ge=1)
    public_rate_per_minute: float = Field(default=600.0, gt=0)
    # /docs (Swagger UI, served from the platform itself) and /openapi.json: None = on, except in
    # production where they are off unless set to true.
    docs_enabled: bool | None = None
    # Swagger UI's files (web/package.json vendors swagger-ui-dist there).
    docs_assets_dir: str | None = None
    # Extra origins the pages may call (Content-Security-Policy connect-src); the page's own host on
    # any port (the other services, as ./dev run starts them) is always allowed.
    csp_connect_src: list[str] = Field(default_factory=list)
    # Extra origins the pages may load images from (Content-Security-Policy img-src): the 托育地图's
    # base map tiles when web/assets/config.js sets one (e.g. ["https://*.tianditu.gov.cn"];
    # docs/map.md). Empty: the map draws the district boundaries alone.
    csp_img_src: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refuse_unsafe_timings(self) -> ServiceSettings:
        problems = []
        if self.kafka_consumer_request_timeout_ms <= self.consumer_session_timeout_ms:
            problems.append(
                f"{self.setting_name('kafka_consumer_request_timeout_ms')} must be longer than "
                f"{self.setting_name('consumer_session_timeout_ms')}"
            )
        if self.inbox_retention_seconds is not None:
            name = self.setting_name("inbox_retention_seconds")
            if self.kafka_topic_retention_ms == -1:
                problems.append(
                    f"{name} is refused while the topics keep records forever "
                    f"({self.setting_name('kafka_topic_retention_ms')} = -1): a pruned id could be delivered again"
                )
            elif self.inbox_retention_seconds * 1000 < self.kafka_topic_retention_ms:
                problems.append(
                    f"{name} ({self.inbox_retention_seconds:g} s) is shorter than the topics' retention "
                    f"({self.setting_name('kafka_topic_retention_ms')} = {self.kafka_topic_retention_ms} ms): "
                    "an id still within it could be delivered again"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> ServiceSettings:
        if self.environment == "production":
            problems = self.production_secret_problems()
            if problems:
                raise ValueError("production refuses: " + "; ".join(problems))
        return self

    def setting_name(self, field: str, key: str | None = None) -> str:
        """The setting as an operator sets it: the environment variable (``FILING_JWT_SECRET``), with
        the dictionary key for a value of a dict setting (``FILING_JWT_PREVIOUS_SECRETS[k0]``), and
        the field name in brackets so either spelling can be searched for."""
        env = f"{self.model_config.get('env_prefix', '')}{field}".upper()
        return f"{env}[{key}] ({field})" if key is not None else f"{env} ({field})"

    def secret_values(self) -> list[tuple[str, str | None, str]]:
        """Every secret a production process holds, current and previous keys alike, as (field, dict
        key or None, value). Subclasses add theirs; the production check covers whatever is here."""
        return [
            ("jwt_secret", None, self.jwt_secret),
            *(("jwt_previous_secrets", kid, v) for kid, v in self.jwt_previous_secrets.items()),
            ("pii_hmac_secret", None, self.pii_hmac_secret),
            ("pii_encryption_secret", None, self.pii_encryption_secret),
            *(("pii_previous_encryption_secrets", kid, v) for kid, v in self.pii_previous_encryption_secrets.items()),
            ("kafka_password", None, self.kafka_password),
        ]

    def production_secret_problems(self) -> list[str]:
        """What production refuses, each naming the setting: a missing database URL or Kafka password
        (empty means the local broker's development principal), and any secret, current or previous,
        that is a development value or shorter than 32 characters (a previous key still verifies
        tokens or decrypts data, so a weak one is as bad as a weak current one)."""
        problems = []
        if self.jwt_dev_tokens:
            problems.append(
                f"{self.setting_name('jwt_dev_tokens')} must not be true: HS256 development tokens are signed "
                f"with a secret every service holds; officers sign in through {self.setting_name('oidc_issuer')}"
            )
        if self.oidc_issuer is None:
            # without it no token is accepted at all: the service would start and answer every
            # officer, inspector and agency with 401, which an operator learns from their users
            problems.append(
                f"{self.setting_name('oidc_issuer')} must be set: officers, inspectors and agencies sign in "
                "through the identity provider"
            )
        elif not self.oidc_issuer.startswith("https://"):
            problems.append(f"{self.setting_name('oidc_issuer')} must be an https:// URL")
        if not self.database_url:
            problems.append(f"{self.setting_name('database_url')} must be set explicitly")
        elif DEV_DATABASE_PASSWORD_PREFIX in self.database_url:
            problems.append(f"{self.setting_name('database_url')} holds a development database password")
        for field, key, value in self.secret_values():
            name = self.setting_name(field, key)
            if field == "kafka_password" and not value:
                problems.append(f"{name} must be set explicitly (empty means the development password)")
            elif value in _DEV_SECRETS:
                problems.append(f"{name} is a development secret")
            elif len(value) < MIN_SECRET_LENGTH:
                problems.append(f"{name} is shorter than {MIN_SECRET_LENGTH} characters")
        return problems

    @property
    def dev_tokens_accepted(self) -> bool:
        """Whether HS256 development tokens are verified (jwt_dev_tokens; unset: all but production)."""
        return self.jwt_dev_tokens if self.jwt_dev_tokens is not None else self.environment != "production"

    def kafka_access(self) -> KafkaAccess:
        """How this service reaches Kafka: the bootstrap servers and its own principal."""
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
