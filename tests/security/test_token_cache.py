"""The cache of verified tokens refuses everything ``decode_token`` refuses: a cached token stops
working when it expires, is never honoured under other keys, and failures are never cached."""

from __future__ import annotations

import time

import jwt
import pytest

from shared.auth import VerifiedTokens, mint_token
from shared.errors import Unauthenticated
from shared.settings import ServiceSettings

SETTINGS = ServiceSettings(environment="test")


def test_a_cached_token_stops_working_when_it_expires() -> None:
    tokens = VerifiedTokens()
    token = mint_token(SETTINGS, subject="u", roles=["ops"], ttl_seconds=1)
    assert tokens.principal(SETTINGS, token).subject == "u"
    assert tokens.principal(SETTINGS, token).subject == "u"  # from the cache
    time.sleep(2.1)  # past exp (whole seconds) whatever the sub-second start
    with pytest.raises(Unauthenticated) as refused:
        tokens.principal(SETTINGS, token)
    assert refused.value.code == "token_expired"


def test_a_token_cached_under_one_key_is_not_honoured_under_another() -> None:
    tokens = VerifiedTokens()
    token = mint_token(SETTINGS, subject="u", roles=["ops"])
    assert tokens.principal(SETTINGS, token).subject == "u"
    other = ServiceSettings(environment="test", jwt_secret="another-secret-entirely-0123456789")
    with pytest.raises(Unauthenticated) as refused:
        tokens.principal(other, token)
    assert refused.value.code == "token_invalid"


def test_refused_tokens_are_not_cached_and_the_cache_is_bounded() -> None:
    tokens = VerifiedTokens(max_entries=2)
    forged = jwt.encode(
        {"sub": "u", "roles": ["ops"], "iat": int(time.time()), "exp": int(time.time()) + 60},
        "another-secret-entirely-0123456789",
        algorithm="HS256",
    )
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            tokens.principal(SETTINGS, forged)
    assert len(tokens) == 0
    for subject in ("a", "b", "c"):
        tokens.principal(SETTINGS, mint_token(SETTINGS, subject=subject, roles=["ops"]))
    assert len(tokens) == 2
