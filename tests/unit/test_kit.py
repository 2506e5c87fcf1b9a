"""Settings, auth and error rendering: the parts of the kit that need neither Kafka nor a database."""

from __future__ import annotations

import time

import asyncpg
import jwt
import pytest
from pydantic import ValidationError

from shared.auth import Principal, decode_token, mint_token
from shared.errors import InvalidInput, translate_validation_errors
from shared.settings import ServiceSettings

STRONG = "x" * 40


def test_production_refuses_development_secrets() -> None:
    with pytest.raises(ValidationError, match="jwt_secret"):
        ServiceSettings(environment="production", database_url="postgresql://db/x")
    with pytest.raises(ValidationError, match="database_url"):
        ServiceSettings(
            environment="production",
            jwt_secret=STRONG,
            pii_hmac_secret=STRONG + "a",
            pii_encryption_secret=STRONG + "b",
        )
    ok = ServiceSettings(
        environment="production",
        database_url="postgresql://db/x",
        jwt_secret=STRONG,
        pii_hmac_secret=STRONG + "a",
        pii_encryption_secret=STRONG + "b",
        kafka_password=STRONG + "c",
        oidc_issuer="https://idp.example.org/realms/childcare",
    )
    assert ok.environment == "production"


def test_service_env_prefix_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.credit.settings import CreditSettings
    from services.filing.settings import FilingSettings

    monkeypatch.setenv("FILING_KAFKA_BOOTSTRAP_SERVERS", "kafka-a:9092")
    monkeypatch.setenv("CREDIT_KAFKA_BOOTSTRAP_SERVERS", "kafka-b:9092")
    assert FilingSettings().kafka_bootstrap_servers == "kafka-a:9092"
    assert CreditSettings().kafka_bootstrap_servers == "kafka-b:9092"
    assert FilingSettings().source == "/services/filing"


def test_token_round_trip_and_rejections() -> None:
    settings = ServiceSettings(environment="test")
    token = mint_token(settings, subject="u1", roles=["inspector", "agency:amr"], districts=["440106"])
    principal = decode_token(settings, token)
    assert principal == Principal(subject="u1", roles=frozenset({"inspector", "agency:amr"}), districts=("440106",))
    assert principal.has("agency:*")
    assert principal.agencies == ["amr"]
    assert not principal.has("supervisor")

    other = ServiceSettings(environment="test", jwt_secret="another-secret-of-sufficient-length!!")
    with pytest.raises(Exception, match="token_invalid"):
        decode_token(other, token)

    expired = jwt.encode(
        {
            "sub": "u",
            "roles": ["ops"],
            "iat": 1,
            "exp": int(time.time()) - 10,
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    with pytest.raises(Exception, match="token_expired"):
        decode_token(settings, expired)

    with pytest.raises(ValueError, match="unknown roles"):
        mint_token(settings, subject="u", roles=["superuser"])


def test_validation_errors_are_translated_with_stable_codes() -> None:
    errors = translate_validation_errors(
        [
            {"type": "missing", "loc": ("body", "uscc"), "msg": "Field required"},
            {"type": "string_too_long", "loc": ("body", "name"), "msg": "x", "ctx": {"max_length": 100}},
            {"type": "uscc_checksum", "loc": ("body", "uscc"), "msg": "统一社会信用代码校验位不正确，应为X"},
            {"type": "greater_than_equal", "loc": ("query", "limit"), "msg": "x", "ctx": {"ge": 1}},
        ]
    )
    assert errors == [
        {"field": "uscc", "code": "missing", "message": "缺少必填字段"},
        {"field": "name", "code": "string_too_long", "message": "长度不能超过 100 个字符"},
        {"field": "uscc", "code": "uscc_checksum", "message": "统一社会信用代码校验位不正确，应为X"},
        {"field": "limit", "code": "greater_than_equal", "message": "必须大于或等于 1"},
    ]


def test_app_error_body_names_field_and_code() -> None:
    body = InvalidInput("街道不属于该区", code="street_not_in_district", field="street_code").body()
    assert body == {
        "error": {
            "code": "street_not_in_district",
            "message": "街道不属于该区",
            "field": "street_code",
            "errors": [{"field": "street_code", "code": "street_not_in_district", "message": "街道不属于该区"}],
        }
    }


def test_kafka_cluster_ids_never_look_like_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """StorageTool reads ``-t -abc…`` as an unknown option: one broker start in 64 failed."""
    import uuid

    from devstack import kafka

    # the first uuid encodes to an id starting with "-" (0xf8… → "-"), the second does not
    uuids = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x00" * 16)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(uuids))  # what devstack.kafka calls
    cluster_id = kafka.new_cluster_id()
    assert not cluster_id.startswith("-")
    assert len(cluster_id) == 22


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), True),
        (asyncpg.exceptions.SerializationError("could not serialize access"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), True),
        (ConnectionResetError(), True),
        (asyncpg.exceptions.UniqueViolationError("duplicate key value"), False),
        (asyncpg.exceptions.NotNullViolationError("null value"), False),
        (ValueError("bad payload"), False),
    ],
)
def test_database_errors_raised_by_the_driver_itself_are_classified_like_wrapped_ones(
    error: BaseException, transient: bool
) -> None:
    """Bulk rows go to asyncpg directly, so its errors arrive unwrapped: a deadlock or a shutdown is
    retried until the database is back, a constraint violation is the event's fault (dead letter)."""
    from shared.consumer import is_transient

    assert is_transient(error) is transient
