"""A real single-node KRaft Apache Kafka broker, run from Maven Central jars.

The jars are fetched once with Maven (``deploy/kafka/pom.xml``) into a cache outside git and the
broker is started with ``java -cp``. Used by the run command, by ``deploy/kafka/kafka.sh`` and by the
test suite; nothing here is a fake: it is the Apache broker binary.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import deque
from pathlib import Path

from shared.kafka import KafkaAccess
from shared.kafka_access import ADMIN_PRINCIPAL, MONITOR_PRINCIPAL, PRINCIPALS, provision
from shared.settings import DEV_KAFKA_ADMIN_PASSWORD, dev_kafka_password

ROOT = Path(__file__).resolve().parent.parent
KAFKA_DEPLOY = ROOT / "deploy" / "kafka"
CACHE_ROOT = Path(os.environ.get("CHILDCARE_CACHE", Path.home() / ".cache" / "childcare-platform"))


def new_cluster_id() -> str:
    """A KRaft cluster id (22 URL-safe base64 characters), never starting with "-": StorageTool would
    read ``-t -abc…`` as an unknown option and the broker would not start (1 run in 64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaStartError(RuntimeError):
    pass


def die_with_parent() -> None:
    """``preexec_fn`` for child processes: Linux sends them SIGTERM when the process that started
    them dies, however it dies, so a killed runner or test session leaves no broker or service behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the parent's own shutdown path still stops its children


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jar_dir() -> Path:
    """Where the jars of the pinned pom live; the pom's hash keys the cache so a version bump refetches."""
    digest = hashlib.sha256((KAFKA_DEPLOY / "pom.xml").read_bytes()).hexdigest()[:12]
    return CACHE_ROOT / f"kafka-jars-{digest}"


def ensure_jars(*, quiet: bool = True) -> Path:
    libs = jar_dir()
    marker = libs / ".complete"
    if marker.exists():
        return libs
    libs.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn",
        "-B",
        *(["-q"] if quiet else []),
        "-f",
        str(KAFKA_DEPLOY / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
        "-DincludeScope=runtime",
    ]
    subprocess.run(cmd, check=True)
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise KafkaStartError(f"maven finished but no kafka_2.13 jar in {libs}")
    marker.write_text("ok\n")
    return libs


class LocalKafka:
    """One broker process with SASL/SCRAM and ACLs on (docs/security.md). ``start()`` returns once
    the broker really answers clients and the services' principals, ACLs and topics may be
    provisioned (``provision``). Nothing connects without credentials: ``access(principal)``."""

    def __init__(
        self,
        workdir: Path,
        *,
        broker_port: int | None = None,
        controller_port: int | None = None,
        heap: str = "512m",
        admin_password: str = DEV_KAFKA_ADMIN_PASSWORD,
        plaintext_baseline_port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.admin_password = admin_password
        # The benchmarks only: a second, unauthenticated loopback listener whose anonymous principal
        # is a super user, so the cost of SASL/SCRAM and ACLs is measured against the same broker
        # without them (bench S1). Never set by the run command or the tests.
        self.plaintext_baseline_port = plaintext_baseline_port
        # Ports we chose ourselves may be taken by another process between the choice and the
        # broker's bind (free_port closes its socket): those, and only those, are chosen again.
        self._chosen_ports = {"broker": broker_port is None, "controller": controller_port is None}
        # The KRaft voter set records the controller's endpoint at format: a broker restarted on an
        # existing log listens where it was formatted to, whatever port a new run would choose.
        saved = self._saved_controller_port()
        if controller_port is None and saved is not None:
            controller_port, self._chosen_ports["controller"] = saved, False
        self.broker_port = broker_port or free_port()
        self.controller_port = controller_port or free_port()
        self.heap = heap
        self.proc: subprocess.Popen[str] | None = None
        self.log_tail: deque[str] = deque(maxlen=200)
        self._started = threading.Event()
        self._reader: threading.Thread | None = None

    def _saved_controller_port(self) -> int | None:
        """The controller port of an existing log: as recorded at format, or (a log formatted before
        the port was recorded) as the last configuration wrote it."""
        if not (self.data_dir / "meta.properties").exists():
            return None
        saved = self.workdir / "controller.port"
        if saved.exists():
            return int(saved.read_text())
        config = self.workdir / "server.properties"
        if config.exists():
            for line in config.read_text().splitlines():
                if line.startswith("controller.quorum.bootstrap.servers="):
                    return int(line.rsplit(":", 1)[1])
        return None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def access(self, principal: str = ADMIN_PRINCIPAL) -> KafkaAccess:
        """Credentials of ``principal`` on this broker: the admin, or a service's development ones."""
        password = self.admin_password if principal == ADMIN_PRINCIPAL else dev_kafka_password(principal)
        return KafkaAccess(self.bootstrap, principal, password)

    def provision(self, namespace: str = "", *, partitions: int = 3, extra_dead_letters: tuple[str, ...] = ()) -> None:
        """Topics and ACLs of ``namespace`` (each test has its own); the services' SCRAM users the
        first time."""
        users = None
        marker = self.workdir / ".users-created"
        # the marker names the users created; a data dir from before the monitor principal gets it now
        if not marker.exists() or MONITOR_PRINCIPAL not in marker.read_text().split():
            users = {name: dev_kafka_password(name) for name in (*PRINCIPALS, MONITOR_PRINCIPAL)}
        provision(
            self.access(),
            namespace=namespace,
            partitions=partitions,
            passwords=users,
            extra_dead_letters=extra_dead_letters,
            monitor=True,
        )
        if users:
            marker.write_text(" ".join(users) + "\n")

    def _internal_secrets(self) -> dict[str, str]:
        """The broker's inter-broker SCRAM password and the controller listener's PLAIN password:
        random per data directory, kept beside it (0600) so a restart authenticates again."""
        path = self.workdir / "internal-secrets.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
        values = {"broker": secrets.token_urlsafe(24), "controller": secrets.token_urlsafe(24)}
        self.workdir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
        return values

    def _java(self) -> list[str]:
        libs = ensure_jars()
        return [
            "java",
            f"-Dlog4j2.configurationFile={KAFKA_DEPLOY / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.workdir / 'logs'}",
            "-cp",
            f"{libs}/*",
        ]

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        template = (KAFKA_DEPLOY / "server.properties").read_text()
        config = self.workdir / "server.properties"
        internal = self._internal_secrets()
        config.touch(mode=0o600)
        config.write_text(
            template.replace("{broker_port}", str(self.broker_port))
            .replace("{controller_port}", str(self.controller_port))
            .replace("{data_dir}", str(self.data_dir))
            .replace("{broker_password}", internal["broker"])
            .replace("{controller_password}", internal["controller"])
        )
        if self.plaintext_baseline_port is not None:
            config.write_text(_with_plaintext_baseline(config.read_text(), self.plaintext_baseline_port))
        return config

    def format_storage(self) -> bool:
        """Format the log directory unless it already holds a log; True when it was formatted now."""
        if (self.data_dir / "meta.properties").exists() and not (self.workdir / "internal-secrets.json").exists():
            raise KafkaStartError(
                f"{self.data_dir} was formatted before SASL was required and has no SCRAM users; "
                f"delete {self.workdir} to start afresh"
            )
        config = self._write_config()
        if (self.data_dir / "meta.properties").exists():
            return False  # a restart keeps the log: that is the point of restarting
        cluster_id = new_cluster_id()
        internal = self._internal_secrets()
        # KRaft keeps SCRAM credentials in the metadata log: the broker's own and the admin's must be
        # there before anything can authenticate; the admin then creates the services' users.
        scram = [
            f"SCRAM-SHA-512=[name=broker,password={internal['broker']}]",
            f"SCRAM-SHA-512=[name={ADMIN_PRINCIPAL},password={self.admin_password}]",
        ]
        subprocess.run(
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(config),
                *(arg for entry in scram for arg in ("--add-scram", entry)),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        (self.workdir / "controller.port").write_text(str(self.controller_port))
        return True

    def start(self, timeout: float = 90.0, *, bind_attempts: int = 3) -> str:
        """Start the broker and wait until it answers. A fresh broker whose self-chosen port was
        taken before it could bind (another process won the race) is formatted again on new ports."""
        for attempt in range(1, bind_attempts + 1):
            fresh = self.format_storage()
            try:
                return self._start_once(timeout)
            except KafkaStartError:
                if self._reader is not None:
                    self._reader.join(timeout=5)  # the broker's last lines, read before they are judged
                lost_bind = any("Address already in use" in line for line in self.log_tail)
                if not (fresh and lost_bind and any(self._chosen_ports.values())) or attempt == bind_attempts:
                    raise
                # the KRaft voter set records the controller's endpoint at format: start afresh
                shutil.rmtree(self.data_dir, ignore_errors=True)
                if self._chosen_ports["broker"]:
                    self.broker_port = free_port()
                if self._chosen_ports["controller"]:
                    self.controller_port = free_port()
                self.log_tail.clear()
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> str:
        self._started.clear()
        self.proc = subprocess.Popen(
            [
                *self._java()[:1],
                f"-Xms{self.heap}",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true",
                *self._java()[1:],
                "kafka.Kafka",
                str(self.workdir / "server.properties"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        (self.workdir / "broker.pid").write_text(str(self.proc.pid))
        # The pipe must be drained for the broker's whole life or it blocks on a full pipe.
        self._reader = threading.Thread(target=self._drain, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise KafkaStartError("kafka exited during startup:\n" + "\n".join(self.log_tail))
            if self._started.is_set() and self._answers():
                return self.bootstrap
            time.sleep(0.1)
        self.kill()
        raise KafkaStartError("kafka did not become ready:\n" + "\n".join(self.log_tail))

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        log_file = (self.workdir / "broker.log").open("a")
        for line in proc.stdout:
            log_file.write(line)
            log_file.flush()
            self.log_tail.append(line.rstrip())
            if "Kafka Server started" in line:
                self._started.set()
        log_file.close()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.broker_port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """Clean shutdown (SIGTERM runs the broker's shutdown hook), SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, *, hard: bool = False) -> str:
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()


def _with_plaintext_baseline(properties: str, port: int) -> str:
    additions = {
        "listeners": f",BASELINE://127.0.0.1:{port}",
        "advertised.listeners": f",BASELINE://127.0.0.1:{port}",
        "listener.security.protocol.map": ",BASELINE:PLAINTEXT",
        "super.users": ";User:ANONYMOUS",
    }
    lines = []
    for line in properties.splitlines():
        key = line.split("=", 1)[0]
        lines.append(line + additions[key] if key in additions and not line.startswith("#") else line)
    return "\n".join(lines) + "\n"


def _stop_pid_file(workdir: Path, timeout: float = 30.0) -> bool:
    pid_file = workdir / "broker.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pid_file.unlink(missing_ok=True)
            return True
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Local Apache Kafka broker (KRaft, single node).")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="fetch the broker jars from Maven Central (once)")
    for name in ("start", "stop"):
        p = sub.add_parser(name)
        p.add_argument("--dir", type=Path, default=ROOT / ".local" / "kafka")
        p.add_argument("--port", type=int, default=9092)
        p.add_argument("--controller-port", type=int, default=9093)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(ensure_jars(quiet=False))
        return
    if args.command == "stop":
        print("stopped" if _stop_pid_file(args.dir) else "not running")
        return
    broker = LocalKafka(args.dir, broker_port=args.port, controller_port=args.controller_port)
    print(f"kafka ready at {broker.start()} (data in {broker.data_dir}); Ctrl-C stops it")
    try:
        while broker.proc is not None and broker.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
        print("kafka stopped")


if __name__ == "__main__":
    main()
