"""Production refuses development secrets wherever they appear: current and previous keys of JWT and
PII, the ledger's signing and previous verifier keys, the Kafka password, and short secrets. Each
refusal names the setting as the operator sets it (the environment variable, with the key of a dict
entry), and no refusal prints a secret.

The settings are read from the environment, exactly as a deployed process reads them (the bug this
guards: FILING_JWT_PREVIOUS_SECRETS='{"k0": "<development JWT secret>"}' next to strong current
secrets was accepted, and tokens signed with the public development secret under kid k0 verified).
"""

from __future__ import annotations

import json
import os
import secrets

import pytest
from pydantic import ValidationError

from services.credit.settings import CreditSettings
from services.filing.settings import FilingSettings
from services.inspection.settings import InspectionSettings
from services.reporting.ledger.notes import Signer
from services.reporting.settings import ReportingSettings, dev_signer
from shared.settings import (
    DEV_JWT_SECRET,
    DEV_KAFKA_ADMIN_PASSWORD,
    DEV_KAFKA_PASSWORDS,
    DEV_PII_ENCRYPTION_SECRET,
    DEV_PII_HMAC_SECRET,
    KAFKA_PRINCIPALS,
    ServiceSettings,
    dev_kafka_password,
)

SETTINGS: dict[str, type[ServiceSettings]] = {
    "filing": FilingSettings,
    "inspection": InspectionSettings,
    "credit": CreditSettings,
    "reporting": ReportingSettings,
}
ORIGIN = "gz.childcare.ledger"
SHORT = "s" * 31  # one character short of the minimum


def strong() -> str:
    return secrets.token_urlsafe(32)  # 43 characters


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A production environment with strong generated secrets for every service, nothing else from
    the outer environment leaking in."""
    for name in list(os.environ):
        if name.startswith(tuple(f"{s.upper()}_" for s in SETTINGS)):
            monkeypatch.delenv(name)
    for service in SETTINGS:
        prefix = service.upper()
        monkeypatch.setenv(f"{prefix}_ENVIRONMENT", "production")
        monkeypatch.setenv(f"{prefix}_DATABASE_URL", f"postgresql+asyncpg://{service}_app:pw@db:5432/{service}")
        for name in ("JWT_SECRET", "PII_HMAC_SECRET", "PII_ENCRYPTION_SECRET", "KAFKA_PASSWORD"):
            monkeypatch.setenv(f"{prefix}_{name}", strong())
        monkeypatch.setenv(f"{prefix}_OIDC_ISSUER", "https://idp.example.org/realms/childcare")
    monkeypatch.setenv("REPORTING_LEDGER_SIGNING_KEY", Signer.from_seed(ORIGIN, secrets.token_bytes(32)).skey)
    return monkeypatch


def refusal(service: str) -> str:
    """The message production answers with, for the environment as it stands."""
    with pytest.raises(ValidationError) as info:
        SETTINGS[service]()
    return str(info.value)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_strong_generated_secrets_are_accepted(env: pytest.MonkeyPatch, service: str) -> None:
    settings = SETTINGS[service]()
    assert settings.environment == "production"
    assert settings.production_secret_problems() == []
    # and the Kafka principal is the service's own with the configured password
    access = settings.kafka_access()
    assert access.username == service
    assert access.password == os.environ[f"{service.upper()}_KAFKA_PASSWORD"]


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_development_keeps_its_development_secrets(env: pytest.MonkeyPatch, service: str) -> None:
    for name in list(os.environ):
        if name.startswith(f"{service.upper()}_"):
            env.delenv(name)
    settings = SETTINGS[service]()
    assert settings.environment == "development"
    assert settings.jwt_secret == DEV_JWT_SECRET
    assert settings.production_secret_problems(), "the same values would be refused in production"


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_jwt_secret(env: pytest.MonkeyPatch, service: str) -> None:
    var = f"{service.upper()}_JWT_SECRET"
    env.setenv(var, DEV_JWT_SECRET)
    message = refusal(service)
    assert f"{var} (jwt_secret) is a development secret" in message
    env.setenv(var, SHORT)
    assert f"{var} (jwt_secret) is shorter than 32 characters" in refusal(service)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_jwt_previous_secrets(env: pytest.MonkeyPatch, service: str) -> None:
    var = f"{service.upper()}_JWT_PREVIOUS_SECRETS"
    env.setenv(var, json.dumps({"k0": strong()}))
    assert SETTINGS[service]().jwt_previous_secrets  # a strong previous key is fine
    env.setenv(var, json.dumps({"k0": strong(), "k1": DEV_JWT_SECRET}))
    message = refusal(service)
    assert f"{var}[k1] (jwt_previous_secrets) is a development secret" in message
    assert f"{var}[k0]" not in message
    env.setenv(var, json.dumps({"old": SHORT}))
    assert f"{var}[old] (jwt_previous_secrets) is shorter than 32 characters" in refusal(service)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_pii_hmac_secret(env: pytest.MonkeyPatch, service: str) -> None:
    var = f"{service.upper()}_PII_HMAC_SECRET"
    env.setenv(var, DEV_PII_HMAC_SECRET)
    assert f"{var} (pii_hmac_secret) is a development secret" in refusal(service)
    env.setenv(var, SHORT)
    assert f"{var} (pii_hmac_secret) is shorter than 32 characters" in refusal(service)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_pii_encryption_secret(env: pytest.MonkeyPatch, service: str) -> None:
    var = f"{service.upper()}_PII_ENCRYPTION_SECRET"
    env.setenv(var, DEV_PII_ENCRYPTION_SECRET)
    assert f"{var} (pii_encryption_secret) is a development secret" in refusal(service)
    env.setenv(var, SHORT)
    assert f"{var} (pii_encryption_secret) is shorter than 32 characters" in refusal(service)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_pii_previous_encryption_secrets(env: pytest.MonkeyPatch, service: str) -> None:
    var = f"{service.upper()}_PII_PREVIOUS_ENCRYPTION_SECRETS"
    env.setenv(var, json.dumps({"k0": strong()}))
    assert SETTINGS[service]().pii_previous_encryption_secrets
    env.setenv(var, json.dumps({"k0": DEV_PII_ENCRYPTION_SECRET}))
    assert f"{var}[k0] (pii_previous_encryption_secrets) is a development secret" in refusal(service)
    env.setenv(var, json.dumps({"k0": SHORT}))
    assert f"{var}[k0] (pii_previous_encryption_secrets) is shorter than 32 characters" in refusal(service)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_kafka_password(env: pytest.MonkeyPatch, service: str) -> None:
    var = f"{service.upper()}_KAFKA_PASSWORD"
    env.delenv(var)
    assert f"{var} (kafka_password) must be set explicitly" in refusal(service)
    env.setenv(var, "")  # empty is unset (env_ignore_empty): still the development password
    assert f"{var} (kafka_password) must be set explicitly" in refusal(service)
    assert len(DEV_KAFKA_PASSWORDS) == len(KAFKA_PRINCIPALS) + 1
    for dev in sorted(DEV_KAFKA_PASSWORDS):  # its own, another service's or the admin's
        env.setenv(var, dev)
        assert f"{var} (kafka_password) is a development secret" in refusal(service), dev
    env.setenv(var, SHORT)
    assert f"{var} (kafka_password) is shorter than 32 characters" in refusal(service)
    assert dev_kafka_password(service) in DEV_KAFKA_PASSWORDS
    assert DEV_KAFKA_ADMIN_PASSWORD in DEV_KAFKA_PASSWORDS


def test_ledger_signing_key(env: pytest.MonkeyPatch) -> None:
    env.delenv("REPORTING_LEDGER_SIGNING_KEY")
    message = refusal("reporting")
    assert "REPORTING_LEDGER_SIGNING_KEY (ledger_signing_key) must be set" in message
    assert "development ledger signing key" in message
    env.setenv("REPORTING_LEDGER_SIGNING_KEY", dev_signer(ORIGIN).skey)
    assert "REPORTING_LEDGER_SIGNING_KEY (ledger_signing_key) is the development ledger signing key" in refusal(
        "reporting"
    )


def test_ledger_signing_key_of_another_origin_is_checked_for_its_own_development_key(env: pytest.MonkeyPatch) -> None:
    env.setenv("REPORTING_LEDGER_ORIGIN", "gz.childcare.ledger.staging")
    env.setenv("REPORTING_LEDGER_SIGNING_KEY", dev_signer("gz.childcare.ledger.staging").skey)
    assert "is the development ledger signing key" in refusal("reporting")


def test_ledger_previous_verifier_keys(env: pytest.MonkeyPatch) -> None:
    """A previous verifier key is public, but the development one belongs to a key anyone can sign
    with (its seed is derived from a string in this repository): verifying with it would accept
    forged checkpoints."""
    var = "REPORTING_LEDGER_PREVIOUS_VERIFIER_KEYS"
    earlier = Signer.from_seed(ORIGIN, secrets.token_bytes(32)).verifier.vkey
    env.setenv(var, json.dumps([earlier]))
    assert ReportingSettings().ledger_previous_verifier_keys == [earlier]
    env.setenv(var, json.dumps([earlier, dev_signer(ORIGIN).verifier.vkey]))
    message = refusal("reporting")
    assert f"{var}[1] (ledger_previous_verifier_keys) is the development ledger verifier key" in message
    assert f"{var}[0]" not in message
    env.setenv(var, json.dumps(["not-a-key"]))
    assert f"{var}[0] (ledger_previous_verifier_keys): verifier key must be name+hexid+base64" in refusal("reporting")


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_database_url(env: pytest.MonkeyPatch, service: str) -> None:
    env.delenv(f"{service.upper()}_DATABASE_URL")
    assert f"{service.upper()}_DATABASE_URL (database_url) must be set explicitly" in refusal(service)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_database_url_with_a_development_password(env: pytest.MonkeyPatch, service: str) -> None:
    from devstack.postgres import dev_database_password

    role = f"{service}_app"
    env.setenv(
        f"{service.upper()}_DATABASE_URL",
        f"postgresql+asyncpg://{role}:{dev_database_password(role)}@db:5432/{service}",
    )
    message = refusal(service)
    assert f"{service.upper()}_DATABASE_URL (database_url) holds a development database password" in message
    assert dev_database_password(role) not in message, "the refusal never prints the password"


def test_every_problem_is_named_at_once_and_no_secret_is_printed(env: pytest.MonkeyPatch) -> None:
    leaked = strong()
    env.setenv("FILING_PII_HMAC_SECRET", leaked[:20])  # short: refused, and must not be echoed
    env.setenv("FILING_JWT_PREVIOUS_SECRETS", json.dumps({"k0": DEV_JWT_SECRET}))
    env.setenv("FILING_KAFKA_PASSWORD", dev_kafka_password("filing"))
    message = refusal("filing")
    for name in ("FILING_PII_HMAC_SECRET", "FILING_JWT_PREVIOUS_SECRETS[k0]", "FILING_KAFKA_PASSWORD"):
        assert name in message
    for value in (leaked[:20], DEV_JWT_SECRET, dev_kafka_password("filing"), os.environ["FILING_JWT_SECRET"][:8]):
        assert value not in message


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_oidc_issuer(env: pytest.MonkeyPatch, service: str) -> None:
    """Without an identity provider no officer, inspector or agency could sign in: production refuses
    to start instead of answering everyone 401."""
    var = f"{service.upper()}_OIDC_ISSUER"
    env.delenv(var)
    assert f"{var} (oidc_issuer) must be set" in refusal(service)
    env.setenv(var, "http://idp.example.org/realms/childcare")
    assert f"{var} (oidc_issuer) must be an https:// URL" in refusal(service)
