"""Tokens the services must refuse, and JWT key rotation by key id."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from shared.auth import decode_token, mint_token
from shared.errors import Unauthenticated
from shared.settings import ServiceSettings

SETTINGS = ServiceSettings(environment="test")


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "u",
        "roles": ["ops"],
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return base


def refused(token: str, settings: ServiceSettings = SETTINGS) -> str:
    with pytest.raises(Unauthenticated) as exc_info:
        decode_token(settings, token)
    return exc_info.value.code


def test_bad_signature_wrong_audience_issuer_expired_and_unknown_roles_are_refused() -> None:
    assert refused(jwt.encode(claims(), "another-secret-entirely-0123456789", algorithm="HS256")) == "token_invalid"
    assert refused(jwt.encode(claims(aud="someone-else"), SETTINGS.jwt_secret, algorithm="HS256")) == "token_invalid"
    assert refused(jwt.encode(claims(iss="evil"), SETTINGS.jwt_secret, algorithm="HS256")) == "token_invalid"
    expired = claims(exp=int(time.time()) - 5)
    assert refused(jwt.encode(expired, SETTINGS.jwt_secret, algorithm="HS256")) == "token_expired"
    assert refused(jwt.encode(claims(roles=["root"]), SETTINGS.jwt_secret, algorithm="HS256")) == "token_roles_invalid"
    no_exp = claims()
    del no_exp["exp"]
    assert refused(jwt.encode(no_exp, SETTINGS.jwt_secret, algorithm="HS256")) == "token_invalid"


def test_alg_none_and_algorithm_switching_are_refused() -> None:
    def b64(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    assert refused(unsigned) == "token_invalid"
    hs512 = jwt.encode(claims(), SETTINGS.jwt_secret * 2, algorithm="HS512")
    assert refused(hs512) == "token_invalid"
    assert refused("not-a-jwt") == "token_invalid"


def test_rotation_keeps_old_tokens_valid_until_their_key_is_retired() -> None:
    old = ServiceSettings(environment="test", jwt_key_id="2026-01", jwt_secret="old-secret-0123456789abcdefghijklmnop")
    old_token = mint_token(old, subject="u", roles=["ops"])
    assert jwt.get_unverified_header(old_token)["kid"] == "2026-01"

    rotated = ServiceSettings(
        environment="test",
        jwt_key_id="2026-07",
        jwt_secret="new-secret-0123456789abcdefghijklmnop",
        jwt_previous_secrets={"2026-01": "old-secret-0123456789abcdefghijklmnop"},
    )
    new_token = mint_token(rotated, subject="u", roles=["ops"])
    assert decode_token(rotated, old_token).subject == "u", "tokens signed before the rotation still work"
    assert decode_token(rotated, new_token).subject == "u"

    retired = ServiceSettings(
        environment="test", jwt_key_id="2026-07", jwt_secret="new-secret-0123456789abcdefghijklmnop"
    )
    assert refused(old_token, retired) == "token_key_unknown"
    assert decode_token(retired, new_token).subject == "u"
    # a token naming the current kid but signed with the old secret is still a forgery
    forged = jwt.encode(
        claims(), "old-secret-0123456789abcdefghijklmnop", algorithm="HS256", headers={"kid": "2026-07"}
    )
    assert refused(forged, rotated) == "token_invalid"
