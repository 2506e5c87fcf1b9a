"""Access tokens of the identity provider (OpenID Connect): asymmetric signatures (RS256/ES256)
checked against the issuer's published keys, found through its discovery document.

The provider (a city's identity platform; ``./dev run`` starts panva's ``oidc-provider`` locally)
signs each access token with one of the keys of its JWKS and names the key in the header's ``kid``.
Services keep the JWKS in memory: a token whose ``kid`` is not there makes them fetch it again, at
most once per ``oidc_jwks_refetch_interval_seconds`` (a rotated key is picked up at once; tokens with
made-up kids cannot make a service hammer the provider), and the whole set is refetched when older
than ``oidc_jwks_cache_seconds``. If the provider cannot be reached, keys already known keep
verifying; a token whose key is not known is answered 503 ``identity_provider_unavailable``.

PyJWT does the cryptography and the claim checks (``iss``, ``aud``, ``exp``/``nbf``/``iat`` with
``oidc_leeway_seconds``); its ``PyJWKClient`` fetches and parses the JWKS. Roles, districts and the
display name are read from the claims the settings name (a dotted path reaches into nested claims).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from shared.errors import AppError, Unauthenticated
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# Largest discovery document or JWKS read (a provider's are a few kilobytes).
_MAX_DOCUMENT_BYTES = 512 * 1024


class IdentityProviderUnavailable(AppError):
    status_code = 503
    code = "identity_provider_unavailable"
    message_zh = "统一身份认证平台暂时无法访问，无法核验登录凭证，请稍后重试"


class IssuerKeys:
    """The signing keys an issuer publishes, by ``kid``: discovery, then its ``jwks_uri``.

    Thread-safe: the request path looks keys up without blocking (``cached``); fetching runs in a
    worker thread (``key``), one at a time."""

    def __init__(self, issuer: str, *, cache_seconds: float, refetch_interval_seconds: float, timeout: float) -> None:
        self.issuer = issuer
        self.cache_seconds = cache_seconds
        self.refetch_interval_seconds = refetch_interval_seconds
        self.timeout = timeout
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None  # time.monotonic() of the last fetch attempt
        self._jwks_client: PyJWKClient | None = None
        self._lock = threading.Lock()
        # Bumped whenever the key set changes: a verified-token cache entry made under another
        # generation is verified again (its key may have been withdrawn).
        self.generation = 0
        self.fetches = 0

    def _fresh(self, now: float) -> bool:
        return self._fetched_at is not None and now - self._fetched_at < self.cache_seconds

    def cached(self, kid: str) -> PyJWK | None:
        """The key, when the set holding it is fresh: no network needed."""
        return self._keys.get(kid) if self._fresh(time.monotonic()) else None

    def key(self, kid: str) -> PyJWK:
        """The key named ``kid``, fetching the JWKS when it is stale or lacks the kid (rate-limited).
        Blocks on the network: call it from a worker thread on the request path."""
        with self._lock:
            now = time.monotonic()
            known = self._keys.get(kid)
            if known is not None and self._fresh(now):
                return known
            may_refetch = self._fetched_at is None or now - self._fetched_at >= self.refetch_interval_seconds
            if self._fresh(now) and not may_refetch:
                raise Unauthenticated("登录凭证的签名密钥未知", code="token_key_unknown")
            try:
                self._fetch()
            except IdentityProviderUnavailable:
                if known is not None:  # the provider is away: a key it published still verifies
                    log.warning("identity provider unreachable, verifying with the cached key %s", kid)
                    return known
                raise
            found = self._keys.get(kid)
            if found is None:
                raise Unauthenticated("登录凭证的签名密钥未知", code="token_key_unknown")
            return found

    def _fetch(self) -> None:
        self._fetched_at = time.monotonic()  # failures count too: a dead provider is not retried per request
        self.fetches += 1
        try:
            if self._jwks_client is None:
                discovery = _get_json(f"{self.issuer.rstrip('/')}/.well-known/openid-configuration", self.timeout)
                if discovery.get("issuer") != self.issuer:
                    raise IdentityProviderUnavailable(code="identity_provider_misconfigured")
                jwks_uri = discovery.get("jwks_uri")
                if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                    raise IdentityProviderUnavailable(code="identity_provider_misconfigured")
                self._jwks_client = PyJWKClient(jwks_uri, cache_keys=False, cache_jwk_set=False, timeout=self.timeout)
            keys = self._jwks_client.get_jwk_set().keys
        except (jwt.PyJWTError, urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("identity provider %s: fetching its keys failed: %s", self.issuer, exc)
            raise IdentityProviderUnavailable() from exc
        by_kid = {k.key_id: k for k in keys if k.key_id and k.public_key_use in (None, "sig")}
        if by_kid.keys() != self._keys.keys():
            self.generation += 1
        self._keys = by_kid


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(_MAX_DOCUMENT_BYTES + 1)
    if len(body) > _MAX_DOCUMENT_BYTES:
        raise ValueError(f"{url}: document larger than {_MAX_DOCUMENT_BYTES} bytes")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError(f"{url}: not a JSON object")
    return document


_issuers: dict[tuple[str, float, float, float], IssuerKeys] = {}
_issuers_lock = threading.Lock()


def issuer_keys(settings: ServiceSettings) -> IssuerKeys:
    """The process's key set of the configured issuer (one per issuer and cache policy)."""
    assert settings.oidc_issuer is not None
    key = (
        settings.oidc_issuer,
        settings.oidc_jwks_cache_seconds,
        settings.oidc_jwks_refetch_interval_seconds,
        settings.oidc_http_timeout_seconds,
    )
    with _issuers_lock:
        keys = _issuers.get(key)
        if keys is None:
            keys = _issuers[key] = IssuerKeys(
                settings.oidc_issuer,
                cache_seconds=settings.oidc_jwks_cache_seconds,
                refetch_interval_seconds=settings.oidc_jwks_refetch_interval_seconds,
                timeout=settings.oidc_http_timeout_seconds,
            )
        return keys


def is_provider_token(settings: ServiceSettings, header: Mapping[str, Any]) -> bool:
    """Whether a token with this (unverified) header is for the identity provider's keys."""
    return settings.oidc_issuer is not None and header.get("alg") in settings.oidc_algorithms


def needs_fetch(settings: ServiceSettings, header: Mapping[str, Any]) -> bool:
    """Whether verifying a provider token may wait on the network (its key is not cached fresh)."""
    kid = header.get("kid")
    return isinstance(kid, str) and issuer_keys(settings).cached(kid) is None


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at a name or dotted path (``realm_access.roles``); None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def strings(value: Any) -> list[str]:
    """A claim holding a list of strings or one space-separated string (both are seen in the wild)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def verify(settings: ServiceSettings, token: str, header: Mapping[str, Any]) -> tuple[dict[str, Any], IssuerKeys]:
    """The claims of a provider token, or ``Unauthenticated`` with a stable code: token_issuer_invalid,
    token_audience_invalid, token_expired, token_key_unknown, token_invalid."""
    assert settings.oidc_issuer is not None
    alg = header.get("alg")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise Unauthenticated("登录凭证缺少签名密钥标识（kid）", code="token_invalid")
    # The issuer first, unverified: a foreign token never makes this service fetch keys.
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("登录凭证无效", code="token_invalid") from exc
    if unverified.get("iss") != settings.oidc_issuer:
        raise Unauthenticated("登录凭证不是本平台信任的身份认证平台签发的", code="token_issuer_invalid")
    keys = issuer_keys(settings)
    jwk = keys.key(kid)
    if jwk.algorithm_name != alg:  # a key is used with its own algorithm only
        raise Unauthenticated("登录凭证无效", code="token_invalid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            jwk.key,
            algorithms=[str(alg)],
            audience=settings.oidc_audience,
            issuer=settings.oidc_issuer,
            leeway=settings.oidc_leeway_seconds,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("登录凭证已过期，请重新登录", code="token_expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthenticated("登录凭证不是签发给本平台的", code="token_audience_invalid") from exc
    except jwt.InvalidIssuerError as exc:
        raise Unauthenticated("登录凭证不是本平台信任的身份认证平台签发的", code="token_issuer_invalid") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("登录凭证无效", code="token_invalid") from exc
    return claims, keys
