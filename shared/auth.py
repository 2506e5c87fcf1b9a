"""JWT bearer auth with roles.

Two kinds of bearer token are verified: access tokens of the identity provider (OpenID Connect,
RS256/ES256 against its JWKS: ``shared.oidc``), which is how officers sign in, and HS256
development tokens signed with ``jwt_secret`` for scripts and tests (``jwt_dev_tokens``; production
refuses them). ``python -m shared.auth --role filing_officer`` mints a development token.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import HTTPConnection

from shared import oidc
from shared.errors import Forbidden, Unauthenticated
from shared.settings import ServiceSettings

ROLES = frozenset({"filing_officer", "supervisor", "inspector", "credit_officer", "ops"})
AGENCY_PREFIX = "agency:"


def valid_role(role: str) -> bool:
    return role in ROLES or (role.startswith(AGENCY_PREFIX) and len(role) > len(AGENCY_PREFIX))


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    name: str | None = None
    districts: tuple[str, ...] = field(default_factory=tuple)

    def has(self, role: str) -> bool:
        if role == "agency:*":
            return any(r.startswith(AGENCY_PREFIX) for r in self.roles)
        return role in self.roles

    @property
    def agencies(self) -> list[str]:
        return sorted(r[len(AGENCY_PREFIX) :] for r in self.roles if r.startswith(AGENCY_PREFIX))


def mint_token(
    settings: ServiceSettings,
    *,
    subject: str,
    roles: list[str],
    ttl_seconds: int = 8 * 3600,
    name: str | None = None,
    districts: list[str] | None = None,
) -> str:
    bad = [r for r in roles if not valid_role(r)]
    if bad:
        raise ValueError(f"unknown roles: {bad}")
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": subject,
        "roles": roles,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    if name:
        claims["name"] = name
    if districts:
        claims["districts"] = districts
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256", headers={"kid": settings.jwt_key_id})


def _verification_key(settings: ServiceSettings, token: str) -> str:
    """The secret for the token's key id: the current one or a previous one still honoured."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("登录凭证无效", code="token_invalid") from exc
    kid = header.get("kid", settings.jwt_key_id)
    if kid == settings.jwt_key_id:
        return settings.jwt_secret
    previous = settings.jwt_previous_secrets.get(str(kid))
    if previous is None:
        raise Unauthenticated("登录凭证的签名密钥已停用或未知", code="token_key_unknown")
    return previous


def decode_token(settings: ServiceSettings, token: str) -> Principal:
    return _verify(settings, token).principal


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    expires: float  # the token's exp, epoch seconds
    # a provider token: the key set that verified it, and that set's generation at the time
    keys: oidc.IssuerKeys | None = None
    generation: int = 0


def _header(token: str) -> dict[str, object]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("登录凭证无效", code="token_invalid") from exc


def _verify(settings: ServiceSettings, token: str) -> _Verified:
    """The token's principal and expiry, or ``Unauthenticated``: a provider token when the header
    names one of the provider's algorithms, else a development token (HS256 only)."""
    header = _header(token)
    if oidc.is_provider_token(settings, header):
        return _verify_provider_token(settings, token, header)
    if header.get("alg") == "HS256" and not settings.dev_tokens_accepted:
        raise Unauthenticated(
            "开发用登录凭证（HS256）在此环境已停用，请通过统一身份认证平台登录", code="token_dev_refused"
        )
    return _verify_dev_token(settings, token)


def _verify_provider_token(settings: ServiceSettings, token: str, header: dict[str, object]) -> _Verified:
    claims, keys = oidc.verify(settings, token, header)
    _check_lifetime(settings, claims)
    # the provider may carry roles of other applications in the same claim: only the platform's count
    roles = frozenset(r for r in oidc.strings(oidc.claim_at(claims, settings.oidc_roles_claim)) if valid_role(r))
    name = oidc.claim_at(claims, settings.oidc_name_claim)
    principal = Principal(
        subject=str(claims["sub"]),
        roles=roles,
        name=name if isinstance(name, str) else None,
        districts=tuple(oidc.strings(oidc.claim_at(claims, settings.oidc_districts_claim))),
    )
    return _Verified(principal, float(claims["exp"]), keys, keys.generation)


def _check_lifetime(settings: ServiceSettings, claims: dict[str, object]) -> None:
    exp, iat = claims["exp"], claims["iat"]
    numbers = isinstance(exp, int | float) and isinstance(iat, int | float) and _numbers(exp, iat)
    if not numbers or exp - iat > settings.jwt_max_lifetime_seconds:  # type: ignore[operator]
        raise Unauthenticated(
            f"登录凭证有效期过长（不得超过{settings.jwt_max_lifetime_seconds // 3600}小时），请重新登录",
            code="token_lifetime",
        )


def _verify_dev_token(settings: ServiceSettings, token: str) -> _Verified:
    try:
        claims = jwt.decode(
            token,
            _verification_key(settings, token),
            algorithms=["HS256"],  # fixed: a token cannot choose its own algorithm ("none" included)
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("登录凭证已过期，请重新登录", code="token_expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("登录凭证无效", code="token_invalid") from exc
    _check_lifetime(settings, claims)
    roles = claims.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) and valid_role(r) for r in roles):
        raise Unauthenticated("登录凭证中的角色无效", code="token_roles_invalid")
    districts = claims.get("districts") or []
    principal = Principal(
        subject=str(claims["sub"]),
        roles=frozenset(roles),
        name=claims.get("name"),
        districts=tuple(str(d) for d in districts) if isinstance(districts, list) else (),
    )
    return _Verified(principal, float(claims["exp"]))


def _numbers(*values: object) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


class VerifiedTokens:
    """Principals of the tokens this process has already verified, by the exact token string,
    until each token's own expiry: a client sends the same bearer token with every request, and
    verifying it (base64, JSON, HMAC, claims) is a noticeable share of a small request's CPU.

    Safe because a token is immutable and self-contained: the same string always verifies to the
    same principal under the same keys, and the keys are fixed for the life of the settings object
    an entry was verified under (an entry of other settings, e.g. another app in the same process, is
    never used). What can change with time is checked on every use: ``exp`` (a cached token stops
    working at the same instant an uncached one would; ``nbf`` and ``iat`` were in the past when it
    was verified and stay so). A provider token's keys are the issuer's JWKS, which can change under
    the same settings: its entry is used only while the key set is the one it was verified under
    (a refetch that changed the set sends it through verification again, so a withdrawn key stops
    working). Only successes are kept, so a forged or malformed token is checked in full every
    time, and the cache is bounded (oldest entries go first). There is no token revocation list in
    this platform; one would have to be consulted here, on hits too.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[ServiceSettings, _Verified]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, settings: ServiceSettings, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        verified_under, verified = entry
        if (
            verified_under is settings
            and time.time() < verified.expires
            and (verified.keys is None or verified.keys.generation == verified.generation)
        ):
            return verified.principal
        self._entries.pop(token, None)
        return None

    def remember(self, settings: ServiceSettings, token: str, verified: _Verified) -> Principal:
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)), None)
        self._entries[token] = (settings, verified)
        return verified.principal

    def principal(self, settings: ServiceSettings, token: str) -> Principal:
        return self.cached(settings, token) or self.remember(settings, token, _verify(settings, token))

    async def principal_async(self, settings: ServiceSettings, token: str) -> Principal:
        """``principal`` for the request path: a provider token whose key is not in memory is
        verified in a worker thread (fetching the JWKS waits on the network, never on the loop)."""
        principal = self.cached(settings, token)
        if principal is not None:
            return principal
        header = _header(token)
        if oidc.is_provider_token(settings, header) and oidc.needs_fetch(settings, header):
            verified = await asyncio.to_thread(_verify, settings, token)
        else:
            verified = _verify(settings, token)
        return self.remember(settings, token, verified)


_verified = VerifiedTokens()


class _BearerToken(HTTPBearer):
    """``HTTPBearer`` as the OpenAPI document shows it (scheme name included), answering the bare
    token: no credentials model is built and validated per request."""

    async def __call__(self, request: HTTPConnection) -> str | None:  # type: ignore[override]
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "bearer" or not token:
            return None
        return token


_bearer = _BearerToken(auto_error=False, scheme_name="HTTPBearer")


async def _principal(request: Request, token: str | None) -> Principal:
    if token is None:
        raise Unauthenticated("请提供 Bearer 登录凭证", code="token_missing")
    settings = request.app.state.settings
    if len(token) > settings.max_token_bytes:  # the edge refuses these first; never verified nor cached
        raise Unauthenticated("登录凭证过长", code="token_too_large")
    principal = await _verified.principal_async(settings, token)
    request.state.principal = principal  # for the audit trail
    # the parsed JSON body (FastAPI reads it before solving dependencies), for the ids the audit
    # trail names when a write is refused (the error handlers see a Request without it)
    request.state.json_body = getattr(request, "_json", None)
    return principal


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency: the caller must hold at least one of ``roles`` ("agency:*" = any agency)."""

    # one dependency (with the bearer scheme under it) rather than a chain of them: each level of
    # FastAPI's dependency solving costs as much as the checks themselves
    async def dependency(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> Principal:
        principal = await _principal(request, token)
        if not any(principal.has(r) for r in roles):
            raise Forbidden(f"此操作需要以下角色之一：{'、'.join(roles)}", code="role_required")
        return principal

    # Declared for the route table: the access-control test reads who may call each route from here.
    dependency.allowed_roles = roles  # type: ignore[attr-defined]
    return dependency


class TokenSettings(ServiceSettings):
    """What local tools sign tokens with: ``CHILDCARE_JWT_SECRET`` (the run command hands the same
    value to every service as ``<SERVICE>_JWT_SECRET``)."""

    model_config = {**ServiceSettings.model_config, "env_prefix": "CHILDCARE_"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Mint a JWT for local use (uses CHILDCARE_JWT_SECRET).")
    parser.add_argument("--role", action="append", required=True, help="repeatable; e.g. filing_officer, agency:amr")
    parser.add_argument("--sub", default="local-user")
    parser.add_argument("--name")
    parser.add_argument("--district", action="append", help="districts the user covers (repeatable)")
    parser.add_argument("--ttl-hours", type=float, default=8)
    args = parser.parse_args(argv)
    settings = TokenSettings()
    token = mint_token(
        settings,
        subject=args.sub,
        roles=args.role,
        ttl_seconds=int(args.ttl_hours * 3600),
        name=args.name,
        districts=args.district,
    )
    print(token)  # noqa: T201 - the command's output is the token


if __name__ == "__main__":
    main()
