"""Sign-in through the identity provider (OpenID Connect): a real ``oidc-provider`` process (the one
``./dev run`` starts, devstack/oidc/) issues the tokens, and the filing service verifies them
against the provider's JWKS, found through its discovery document.

* the happy path is the workbench's: authorization code + PKCE through the provider's own login and
  consent pages, then a service endpoint called with the access token, answering within the
  officer's district only;
* key rotation is the provider's: a new key (of another algorithm, ES256) is put first in its key set
  and the provider restarted; the service picks the new ``kid`` up by fetching the JWKS again, at
  most once per refetch interval;
* wrong issuer, wrong audience, expired and forged tokens are signed here with the provider's own
  private key (or another one), since the provider never issues them;
* HS256 development tokens are refused where switched off, and production refuses switching them on.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from devstack.kafka import free_port
from devstack.oidc import AUDIENCE, LocalOidcProvider, sign_in, signing_key
from services.filing.settings import FilingSettings
from shared.auth import decode_token, mint_token
from shared.db import Database
from shared.errors import Unauthenticated
from shared.oidc import issuer_keys
from shared.settings import ServiceSettings
from tests.filing.support import insert_filed_institution, make_uscc
from tests.support import create_app, running, settings_for

REDIRECT_URI = "http://127.0.0.1:8001/ui/work/callback.html"


def start_provider(workdir: Path) -> LocalOidcProvider:
    provider = LocalOidcProvider(workdir, free_port(), redirect_uris=[REDIRECT_URI])
    provider.start()
    return provider


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOidcProvider]:
    started = start_provider(tmp_path_factory.mktemp("oidc"))
    yield started
    started.stop()


@pytest.fixture
def own_provider(tmp_path: Path) -> Iterator[LocalOidcProvider]:
    """A provider of this test alone (its keys are rotated)."""
    started = start_provider(tmp_path / "oidc")
    yield started
    started.stop()


def oidc_settings(provider: LocalOidcProvider, **overrides: Any) -> ServiceSettings:
    return settings_for(
        "filing",
        run_background_workers=False,
        oidc_issuer=provider.issuer,
        jwt_dev_tokens=False,
        **overrides,
    )


async def signed_in(provider: LocalOidcProvider, account: str) -> str:
    """The access token of ``account``, through authorization code + PKCE (blocking HTTP: a thread)."""
    tokens = await asyncio.to_thread(sign_in, provider.issuer, account, redirect_uri=REDIRECT_URI)
    return str(tokens["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_by(provider: LocalOidcProvider, **overrides: Any) -> str:
    """A token signed with the provider's own current key, with claims a test chooses."""
    private = provider.private_keys()[0]
    algorithm = RSAAlgorithm if private["kty"] == "RSA" else ECAlgorithm
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "aud": AUDIENCE,
        "sub": "demo-supervisor",
        "roles": ["supervisor"],
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    key = algorithm.from_jwk(private)
    return jwt.encode(claims, key, algorithm=private["alg"], headers={"kid": private["kid"]})  # type: ignore[arg-type]


@pytest.fixture
async def tianhe_and_yuexiu(rollback_db: Callable[[str], Awaitable[Database]]) -> Database:
    """The filing database (rolled back at the end) with one filed institution in 天河区 and one in 越秀区."""
    db = await rollback_db("filing")
    async with db.transaction() as session:
        await insert_filed_institution(session, uscc=make_uscc(), district_code="440106", street_code="440106001")
        await insert_filed_institution(
            session, uscc=make_uscc(), name="越秀区小树苗托育中心", district_code="440104", street_code="440104001"
        )
    return db


async def test_code_flow_with_pkce_signs_an_officer_in_with_the_district_scope_of_the_provider_claims(
    provider: LocalOidcProvider, tianhe_and_yuexiu: Database
) -> None:
    officer = await signed_in(provider, "demo-officer-440106")
    header = jwt.get_unverified_header(officer)
    assert header["alg"] == "RS256"
    assert header["kid"] == provider.private_keys()[0]["kid"]

    app = create_app("filing", oidc_settings(provider), tianhe_and_yuexiu)
    async with running(app) as client:
        mine = await client.get("/v1/institutions", headers=bearer(officer))
        assert mine.status_code == 200, mine.text
        assert mine.json()["total"] == 1
        assert [i["district_code"] for i in mine.json()["items"]] == ["440106"]

        supervisor = await signed_in(provider, "demo-supervisor")
        city = await client.get("/v1/institutions", headers=bearer(supervisor))
        assert city.status_code == 200, city.text
        assert sorted(i["district_code"] for i in city.json()["items"]) == ["440104", "440106"]

        # the role comes from the provider's claims: an inspector may not file
        inspector = await signed_in(provider, "demo-inspector-440106-01")
        refused = await client.get("/v1/institutions", headers=bearer(inspector))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "role_required"


async def test_the_provider_does_not_sign_in_unknown_accounts(provider: LocalOidcProvider) -> None:
    with pytest.raises(RuntimeError):
        await signed_in(provider, "somebody-else")


async def test_a_rotated_key_is_picked_up_by_its_kid_and_refetching_is_rate_limited(
    own_provider: LocalOidcProvider, rollback_db: Callable[[str], Awaitable[Database]]
) -> None:
    settings = oidc_settings(own_provider, oidc_jwks_refetch_interval_seconds=0)
    # the same provider under a long refetch interval: a kid it has not seen is not fetched for
    limited = oidc_settings(own_provider, oidc_jwks_refetch_interval_seconds=3600)
    db = await rollback_db("filing")
    app = create_app("filing", settings, db)
    async with running(app) as client:
        before = await signed_in(own_provider, "demo-supervisor")
        assert (await client.get("/v1/institutions", headers=bearer(before))).status_code == 200
        assert (await asyncio.to_thread(decode_token, limited, before)).subject == "demo-supervisor"

        old_kid = jwt.get_unverified_header(before)["kid"]
        new_kid = await asyncio.to_thread(own_provider.rotate, "ES256")
        after = await signed_in(own_provider, "demo-supervisor")
        assert jwt.get_unverified_header(after) == {"alg": "ES256", "typ": "at+jwt", "kid": new_kid}
        assert new_kid != old_kid

        answer = await client.get("/v1/institutions", headers=bearer(after))
        assert answer.status_code == 200, answer.text
        assert issuer_keys(settings).fetches == 2  # once at the first token, once for the new kid
        # the previous key is still published: tokens it signed keep working until they expire
        assert (await client.get("/v1/institutions", headers=bearer(before))).status_code == 200

    with pytest.raises(Unauthenticated) as refused:
        await asyncio.to_thread(decode_token, limited, after)
    assert refused.value.code == "token_key_unknown"


async def test_wrong_issuer_wrong_audience_expired_and_forged_tokens_are_refused_with_stable_codes(
    provider: LocalOidcProvider, tianhe_and_yuexiu: Database
) -> None:
    app = create_app("filing", oidc_settings(provider), tianhe_and_yuexiu)
    id_token = (await asyncio.to_thread(sign_in, provider.issuer, "demo-supervisor", redirect_uri=REDIRECT_URI))[
        "id_token"
    ]
    stranger = signing_key(provider.private_keys()[0]["kid"])  # a key of nobody's, under the provider's kid
    forged = jwt.encode(
        jwt.decode(signed_by(provider), options={"verify_signature": False}),
        RSAAlgorithm.from_jwk(stranger),  # type: ignore[arg-type]
        algorithm="RS256",
        headers={"kid": stranger["kid"]},
    )
    now = int(time.time())
    cases = [
        ("token_issuer_invalid", signed_by(provider, iss="https://idp.example.org")),
        ("token_audience_invalid", signed_by(provider, aud="another-application")),
        # the provider's ID token is for the client, not for the platform's APIs
        ("token_audience_invalid", id_token),
        ("token_expired", signed_by(provider, iat=now - 700, exp=now - 120)),
        ("token_invalid", forged),
        (
            "token_key_unknown",
            jwt.encode(
                {"iss": provider.issuer},
                RSAAlgorithm.from_jwk(stranger),  # type: ignore[arg-type]
                algorithm="RS256",
                headers={"kid": "no-such-key"},
            ),
        ),
    ]
    async with running(app) as client:
        for code, token in cases:
            answer = await client.get("/v1/institutions", headers=bearer(token))
            assert answer.status_code == 401, (code, answer.text)
            assert answer.json()["error"]["code"] == code
            assert answer.headers["www-authenticate"] == "Bearer"
        # a few seconds of clock skew is tolerated (oidc_leeway_seconds), not more
        within_leeway = signed_by(provider, iat=now - 600, exp=now - 5)
        assert (await client.get("/v1/institutions", headers=bearer(within_leeway))).status_code == 200


def test_roles_and_districts_are_read_from_the_configured_claims(provider: LocalOidcProvider) -> None:
    keycloak_like = signed_by(
        provider,
        sub="officer-7",
        roles=None,
        realm_access={"roles": ["offline_access", "filing_officer", "default-roles-gz"]},
        org={"districts": "440106 440104"},
        preferred_username="天河区备案专员",
    )
    settings = oidc_settings(
        provider,
        oidc_roles_claim="realm_access.roles",
        oidc_districts_claim="org.districts",
        oidc_name_claim="preferred_username",
    )
    principal = decode_token(settings, keycloak_like)
    assert principal.roles == frozenset({"filing_officer"})  # roles of other applications are ignored
    assert principal.districts == ("440106", "440104")
    assert principal.name == "天河区备案专员"
    assert decode_token(oidc_settings(provider), keycloak_like).roles == frozenset()


async def test_hs256_development_tokens_are_refused_when_switched_off(
    provider: LocalOidcProvider, tianhe_and_yuexiu: Database
) -> None:
    settings = oidc_settings(provider)
    dev_token = mint_token(settings, subject="script", roles=["supervisor"])
    app = create_app("filing", settings, tianhe_and_yuexiu)
    async with running(app) as client:
        answer = await client.get("/v1/institutions", headers=bearer(dev_token))
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "token_dev_refused"
    # where they are on (development, tests), the same token is accepted
    accepted = settings_for("filing", oidc_issuer=provider.issuer)
    assert decode_token(accepted, dev_token).subject == "script"

    # production: off unless switched on, and switching them on is refused, naming the variable
    production: dict[str, Any] = {
        "environment": "production",
        "database_url": "postgresql://filing_app:pw@db/filing",
        **{name: secrets.token_urlsafe(32) for name in ("jwt_secret", "pii_hmac_secret", "pii_encryption_secret")},
        "kafka_password": secrets.token_urlsafe(32),
        "oidc_issuer": "https://idp.example.org/realms/childcare",
    }
    assert not FilingSettings(**production).dev_tokens_accepted
    with pytest.raises(ValidationError) as info:
        FilingSettings(**production, jwt_dev_tokens=True)
    assert "FILING_JWT_DEV_TOKENS (jwt_dev_tokens) must not be true" in str(info.value)
    with pytest.raises(ValidationError) as info:
        FilingSettings(**{**production, "oidc_issuer": "http://idp.example.org"})
    assert "FILING_OIDC_ISSUER (oidc_issuer) must be an https:// URL" in str(info.value)
    # and without an issuer no one could sign in: production refuses to start rather than answer 401
    with pytest.raises(ValidationError) as info:
        FilingSettings(**{**production, "oidc_issuer": None})
    assert "FILING_OIDC_ISSUER (oidc_issuer) must be set" in str(info.value)


async def test_a_service_answers_503_when_the_provider_is_away_and_the_key_is_not_known(
    own_provider: LocalOidcProvider, tianhe_and_yuexiu: Database
) -> None:
    token = await signed_in(own_provider, "demo-supervisor")
    own_provider.stop()
    settings = oidc_settings(own_provider, oidc_jwks_refetch_interval_seconds=0)
    app = create_app("filing", settings, tianhe_and_yuexiu)
    async with running(app) as client:
        answer = await client.get("/v1/institutions", headers=bearer(token))
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "identity_provider_unavailable"
