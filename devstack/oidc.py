"""The local OpenID Connect provider: panva's ``oidc-provider`` (npm, devstack/oidc/), with the demo
officer accounts of devstack/oidc/accounts.json and the public client ``workbench``.

``./dev run`` starts it next to the services (their ``<SERVICE>_OIDC_ISSUER`` points at it); the
token tests start their own. Its signing keys are a private JWKS generated here with
``cryptography`` (kept in the data directory, so tokens survive a restart; ``rotate`` puts a new key
first, which the provider then signs with, and keeps the old one published).

``python -m devstack.oidc sign-in demo-officer-440106`` signs in through the running provider with
the authorization code flow and PKCE, as the workbench pages will, and prints the access token.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from devstack.kafka import die_with_parent

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
ACCOUNTS_FILE = OIDC_DIR / "accounts.json"
CLIENT_ID = "workbench"
# The platform as the provider's resource server: the access tokens' `aud` (services'
# oidc_audience has the same default).
AUDIENCE = "urn:gz-childcare:platform"
SCOPE = "openid profile childcare"


def demo_accounts() -> dict[str, dict[str, Any]]:
    accounts: dict[str, dict[str, Any]] = json.loads(ACCOUNTS_FILE.read_text(encoding="utf-8"))["accounts"]
    return accounts


def workbench_redirect_uris(pages_origins: list[str]) -> list[str]:
    """Where the provider may send the workbench's authorization codes: under /ui/work/."""
    return [f"{origin}/ui/work/callback.html" for origin in pages_origins]


def inspector_redirect_uris(inspection_origins: list[str]) -> list[str]:
    """The inspectors' app (web/inspector/, served by the inspection service) signs in with the same
    public client and comes back to its own page: /ui/inspector/."""
    return [f"{origin}/ui/inspector/" for origin in inspection_origins]


def signing_key(kid: str, alg: str = "RS256") -> dict[str, Any]:
    """A new private JWK: RSA 2048 for RS256, P-256 for ES256."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    if alg == "RS256":
        jwk = json.loads(RSAAlgorithm.to_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    elif alg == "ES256":
        jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    else:
        raise ValueError(f"unsupported algorithm {alg}")
    jwk.update(kid=kid, alg=alg, use="sig")
    return dict(jwk)


def ensure_installed() -> None:
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        raise SystemExit(
            "the local OpenID Connect provider is not installed: `./dev run` installs it "
            "(or `npm ci --prefix devstack/oidc --ignore-scripts`)"
        )


class LocalOidcProvider:
    """One provider process on 127.0.0.1:``port`` (issuer ``http://127.0.0.1:<port>``)."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        *,
        redirect_uris: list[str],
        audience: str = AUDIENCE,
        access_token_alg: str = "RS256",
        access_token_ttl_seconds: int = 3600,
    ) -> None:
        self.workdir = workdir
        self.port = port
        self.redirect_uris = redirect_uris
        self.audience = audience
        self.access_token_alg = access_token_alg
        self.access_token_ttl_seconds = access_token_ttl_seconds
        self.jwks_file = workdir / "jwks.json"
        self.log = workdir / "oidc-provider.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def private_keys(self) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = json.loads(self.jwks_file.read_text())["keys"]
        return keys

    def _write_keys(self, keys: list[dict[str, Any]]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = self.jwks_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private keys
        with os.fdopen(fd, "w") as handle:
            json.dump({"keys": keys}, handle)
        tmp.replace(self.jwks_file)

    def start(self, timeout: float = 30.0) -> str:
        ensure_installed()
        if not self.jwks_file.exists():
            self._write_keys([signing_key(f"local-{secrets.token_hex(4)}", self.access_token_alg)])
        env = {
            **os.environ,
            "OIDC_ISSUER": self.issuer,
            "OIDC_AUDIENCE": self.audience,
            "OIDC_JWKS_FILE": str(self.jwks_file),
            "OIDC_REDIRECT_URIS": json.dumps(self.redirect_uris),
            "OIDC_ACCESS_TOKEN_ALG": self.access_token_alg,
            "OIDC_ACCESS_TOKEN_TTL": str(self.access_token_ttl_seconds),
            "OIDC_ACCOUNTS_FILE": str(ACCOUNTS_FILE),
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            ["node", str(OIDC_DIR / "provider.mjs")],
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited with {self._proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.issuer}/.well-known/openid-configuration", timeout=2) as answer:
                    if answer.status == 200:
                        return self.issuer
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"oidc-provider did not answer within {timeout:.0f}s; see {self.log}")

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def rotate(self, alg: str = "RS256") -> str:
        """Key rotation: a new key goes first (the provider signs with the first key of an
        algorithm), the previous ones stay published for the tokens they signed. Restarts the
        provider (its signing keys are configuration). Answers the new key's kid."""
        new = signing_key(f"local-{secrets.token_hex(4)}", alg)
        self.stop()
        self._write_keys([new, *self.private_keys()])
        self.access_token_alg = alg
        self.start()
        return str(new["kid"])


def sign_in(issuer: str, account: str, *, redirect_uri: str, client_id: str = CLIENT_ID) -> dict[str, Any]:
    """Sign ``account`` in as the workbench does: authorization code + PKCE (S256), through the
    provider's own login and consent pages (posted as a browser would), then the code exchanged
    for the tokens at the token endpoint. Answers the token response (access_token, id_token, …)."""
    import httpx

    with httpx.Client(timeout=10, follow_redirects=False) as http:
        discovery = http.get(f"{issuer}/.well-known/openid-configuration").raise_for_status().json()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        answer = http.get(
            discovery["authorization_endpoint"],
            params={
                "client_id": client_id,
                "response_type": "code",
                "scope": SCOPE,
                "redirect_uri": redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "nonce": secrets.token_urlsafe(16),
            },
        )
        for _ in range(12):  # login page, consent page, and the redirects between them
            location = answer.headers.get("location")
            if answer.status_code not in (302, 303) or location is None:
                raise RuntimeError(f"sign-in: unexpected answer {answer.status_code}: {answer.text[:300]}")
            url = urljoin(str(answer.url), location)
            if url.startswith(redirect_uri):
                return _redeem(http, discovery, url, state, verifier, redirect_uri, client_id)
            page = http.get(url)
            if page.status_code != 200:  # another redirect of the flow
                answer = page
                continue
            if 'name="prompt" value="login"' in page.text:
                answer = http.post(url, data={"prompt": "login", "login": account, "password": "demo"})
            elif 'name="prompt" value="consent"' in page.text:
                answer = http.post(url, data={"prompt": "consent"})
            else:
                raise RuntimeError(f"sign-in: unexpected page at {url}: {page.text[:300]}")
        raise RuntimeError("sign-in: too many steps")


def _redeem(
    http: Any, discovery: dict[str, Any], url: str, state: str, verifier: str, redirect_uri: str, client_id: str
) -> dict[str, Any]:
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if "error" in query:
        raise RuntimeError(f"sign-in refused: {query['error']}: {query.get('error_description', '')}")
    if query.get("state") != state or query.get("iss") != discovery["issuer"]:  # RFC 9207 mix-up defence
        raise RuntimeError("sign-in: the redirect's state or issuer is not this flow's")
    tokens = http.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    if tokens.status_code != 200:
        raise RuntimeError(f"sign-in: the token endpoint answered {tokens.status_code}: {tokens.text[:300]}")
    answer: dict[str, Any] = tokens.json()
    return answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sign in through the local OpenID Connect provider (./dev run).")
    sub = parser.add_subparsers(dest="command", required=True)
    signin = sub.add_parser("sign-in", help="print an access token of a demo account")
    signin.add_argument("account", help=f"one of: {', '.join(demo_accounts())}")
    signin.add_argument("--issuer", default=os.environ.get("CHILDCARE_OIDC_ISSUER", "http://127.0.0.1:8010"))
    signin.add_argument(
        "--redirect-uri",
        default=os.environ.get("CHILDCARE_OIDC_REDIRECT_URI", "http://127.0.0.1:8001/ui/work/callback.html"),
    )
    args = parser.parse_args(argv)
    print(sign_in(args.issuer, args.account, redirect_uri=args.redirect_uri)["access_token"])


if __name__ == "__main__":
    main()
