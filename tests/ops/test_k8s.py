"""deploy/k8s: the built-in Kubernetes kinds are validated offline against the Kubernetes OpenAPI
schemas that the ``kubernetes-validate`` package carries (strict: unknown fields fail). The Strimzi
(kafka.strimzi.io) and CloudNativePG (postgresql.cnpg.io) custom resources have no schema there:
they get a structural check here (required fields, production replication, agreement with
shared/topics.py, the KafkaUsers' ACLs equal to shared/kafka_access's plan, TLS and SCRAM on every
listener, two PostgreSQL roles per service), not a CRD-schema validation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.kafka_access import MONITOR_PRINCIPAL, PRINCIPALS, acl_bindings, monitor_acl_bindings
from shared.topics import dead_letter_topic, topic_specs
from tests.ops.conftest import ROOT

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"
SERVICES = {"filing": 8001, "inspection": 8002, "credit": 8003, "reporting": 8004}
CUSTOM = {
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("kafka.strimzi.io/v1beta2", "KafkaUser"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "Database"),
}
PARTITIONS = 6
KAFKA_CA_SECRET = "childcare-kafka-cluster-ca-cert"  # Strimzi's: <cluster>-cluster-ca-cert
PG_CA_SECRET = "childcare-pg-ca"  # CloudNativePG's: <cluster>-ca (it also holds the CA's private key)


def resources() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        out += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return out


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in resources() if doc["kind"] == kind}


def test_builtin_kinds_pass_strict_schema_validation() -> None:
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - the package belongs in pyproject's dev extras
        pytest.fail(
            "kubernetes-validate is not installed: add it to pyproject.toml [project.optional-dependencies] dev"
        )
    checked: Counter[str] = Counter()
    for path, doc in resources():
        if (doc["apiVersion"], doc["kind"]) in CUSTOM:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
        checked[doc["kind"]] += 1
    # the four services (each with its PodDisruptionBudget and autoscaler) and the lag exporter
    assert checked["PodDisruptionBudget"] == checked["HorizontalPodAutoscaler"] == 4
    assert checked["Deployment"] == 5
    assert checked["Job"] == 1


def test_validation_rejects_a_broken_manifest() -> None:
    import kubernetes_validate

    deployment = dict(of_kind("Deployment")["filing"])
    deployment["spec"] = {**deployment["spec"], "replicas": "two"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_kind_is_known() -> None:
    kinds = {(d["apiVersion"], d["kind"]) for _, d in resources()}
    builtin = {k for k in kinds if k not in CUSTOM}
    assert all("strimzi" not in v and "cnpg" not in v for v, _ in builtin)
    assert {k for k in kinds if k in CUSTOM} == CUSTOM
    assert all(d["metadata"].get("namespace", "childcare") == "childcare" for _, d in resources())


def secret_ref(entry: dict[str, Any]) -> tuple[str, str] | None:
    ref = entry.get("valueFrom", {}).get("secretKeyRef")
    return (ref["name"], ref["key"]) if ref else None


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def mounted_secrets(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """mount path -> (Secret name, the keys projected) of the container's Secret volumes."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    out = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is not None:
            out[mount["mountPath"]] = (secret["secretName"], [i["key"] for i in secret.get("items", [])])
    return out


def looks_secret(name: str) -> bool:
    return name.endswith(("SECRET", "SECRETS", "PASSWORD", "SIGNING_KEY")) or name in {"PGPASSWORD", "PGUSER"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_deployment_probes_resources_and_secrets(service: str) -> None:
    deployment = of_kind("Deployment")[service]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"][0]["containerPort"] == SERVICES[service]
    assert f"--port {SERVICES[service]}" in " ".join(container["command"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    # secrets only by reference: no literal value for anything secret, and no Secret object in git
    env = env_of(container)
    prefix = service.upper()
    required = ["JWT_SECRET", "PII_HMAC_SECRET", "PII_ENCRYPTION_SECRET", "KAFKA_PASSWORD"]
    required += ["LEDGER_SIGNING_KEY"] if service == "reporting" else []
    for name in required:
        ref = env[f"{prefix}_{name}"]["valueFrom"]["secretKeyRef"]
        assert not ref.get("optional", False), f"{prefix}_{name} must be required: the pod must not start without it"
    for name, entry in env.items():
        if looks_secret(name):
            assert secret_ref(entry) is not None, f"{name} is secret: it must come from a Secret"
    assert "Secret" not in {d["kind"] for _, d in resources()}
    config = of_kind("ConfigMap")[container["envFrom"][0]["configMapRef"]["name"]]["data"]
    assert config[f"{prefix}_ENVIRONMENT"] == "production"
    assert not any(looks_secret(key) for key in config)
    # Kafka: over TLS to the Strimzi bootstrap, as the service's own principal, trusting the cluster CA
    assert (
        config[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"]
        == f"{next(iter(of_kind('Kafka')))}-kafka-bootstrap.childcare.svc:9093"
    )
    assert config[f"{prefix}_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config[f"{prefix}_KAFKA_USERNAME"] == service
    secrets = mounted_secrets(pod, container)
    ca_dir, ca_file = config[f"{prefix}_KAFKA_SSL_CAFILE"].rsplit("/", 1)
    assert secrets[ca_dir] == (KAFKA_CA_SECRET, [ca_file])
    # PostgreSQL: the runtime role's login from its Secret, verify-full against the cluster CA; the URL
    # carries no credentials
    url = config[f"{prefix}_DATABASE_URL"]
    assert url == f"postgresql+asyncpg://childcare-pg-rw.childcare.svc:5432/{service}"
    assert secret_ref(env["PGUSER"]) == (f"childcare-pg-{service}-app", "username")
    assert secret_ref(env["PGPASSWORD"]) == (f"childcare-pg-{service}-app", "password")
    assert config["PGSSLMODE"] == "verify-full"
    ca_dir, ca_file = config["PGSSLROOTCERT"].rsplit("/", 1)
    assert secrets[ca_dir] == (PG_CA_SECRET, [ca_file]), "only the CA certificate, never its private key"
    # the disruption budget and the autoscaler cover exactly this deployment
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = of_kind("PodDisruptionBudget")[service]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = of_kind("HorizontalPodAutoscaler")[service]["spec"]
    assert hpa["scaleTargetRef"]["name"] == service
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"] <= PARTITIONS  # replicas beyond the partitions idle
    assert pdb["spec"]["minAvailable"] < hpa["minReplicas"]  # a node drain can always proceed


def test_migration_job_migrates_every_database_as_its_owner() -> None:
    (job,) = of_kind("Job").values()
    pod = job["spec"]["template"]["spec"]
    containers = {c["command"][-1]: c for c in pod["containers"]}
    assert set(containers) == set(SERVICES)
    for service, container in containers.items():
        assert container["command"] == ["python", "-m", "shared.migrate", service]
        env = env_of(container)
        prefix = service.upper()
        assert (
            env[f"{prefix}_DATABASE_URL"]["value"]
            == f"postgresql+asyncpg://childcare-pg-rw.childcare.svc:5432/{service}"
        )
        assert env[f"{prefix}_DATABASE_RUNTIME_ROLE"]["value"] == f"{service}_app"
        assert secret_ref(env["PGUSER"]) == (f"childcare-pg-{service}-owner", "username")
        assert secret_ref(env["PGPASSWORD"]) == (f"childcare-pg-{service}-owner", "password")
        assert env["PGSSLMODE"]["value"] == "verify-full"
        ca_dir, ca_file = env["PGSSLROOTCERT"]["value"].rsplit("/", 1)
        assert mounted_secrets(pod, container)[ca_dir] == (PG_CA_SECRET, [ca_file])


def test_kafka_cluster_is_replicated_for_production() -> None:
    (kafka,) = of_kind("Kafka").values()
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["auto.create.topics.enable"] is False
    assert config["unclean.leader.election.enable"] is False
    pools = of_kind("KafkaNodePool")
    assert sum(p["spec"]["replicas"] for p in pools.values() if "broker" in p["spec"]["roles"]) >= 3
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"] for p in pools.values())
    assert kafka["spec"]["entityOperator"]["topicOperator"] is not None


def test_kafka_topics_are_the_platforms_topics() -> None:
    topics = {t["spec"]["topicName"]: t for t in of_kind("KafkaTopic").values()}
    expected = {s.name: s for s in topic_specs(PARTITIONS, replication_factor=3, min_insync_replicas=2)}
    dead_letters = {dead_letter_topic("", consumer) for consumer in SERVICES}
    assert set(topics) == set(expected) | dead_letters
    for name, topic in topics.items():
        spec = topic["spec"]
        assert spec["replicas"] == 3
        assert spec["config"]["min.insync.replicas"] == 2
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == next(iter(of_kind("Kafka")))
        if name in expected:
            assert spec["partitions"] == expected[name].partitions
            assert {k: str(v) for k, v in spec["config"].items()} == expected[name].config
    assert topics["childcare.ledger.changes"]["spec"]["partitions"] == 1


def test_postgres_cluster_holds_each_services_database_with_two_roles() -> None:
    (cluster,) = of_kind("Cluster").values()
    spec = cluster["spec"]
    assert spec["instances"] >= 3
    assert spec["storage"]["size"]
    assert spec["postgresql"]["synchronous"]["number"] >= 1
    assert "hostnossl all all all reject" in spec["postgresql"]["pg_hba"]
    initdb = spec["bootstrap"]["initdb"]
    owners = {initdb["database"]: initdb["owner"]}
    for database in of_kind("Database").values():
        assert database["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        owners[database["spec"]["name"]] = database["spec"]["owner"]
    assert owners == {s: f"{s}_owner" for s in SERVICES}  # one database per service, owned by its owner role
    roles = {r["name"]: r for r in spec["managed"]["roles"]}
    assert set(roles) == {f"{s}_{kind}" for s in SERVICES for kind in ("owner", "app")}
    for name, role in roles.items():
        assert role["login"] is True
        assert role["ensure"] == "present"
        assert not role.get("superuser", False)
        assert role["passwordSecret"]["name"] == f"childcare-pg-{name.replace('_', '-')}"
    assert initdb["secret"]["name"] == roles[initdb["owner"]]["passwordSecret"]["name"]


def test_kafka_listeners_are_tls_with_scram_and_acls_are_enforced() -> None:
    (kafka,) = of_kind("Kafka").values()
    spec = kafka["spec"]["kafka"]
    assert spec["listeners"], "at least one listener"
    for listener in spec["listeners"]:  # no plaintext and no unauthenticated listener at all
        assert listener["tls"] is True
        assert listener["authentication"]["type"] == "scram-sha-512"
    assert spec["authorization"]["type"] == "simple"
    assert spec["authorization"]["superUsers"] == ["admin"]
    assert spec["config"]["allow.everyone.if.no.acl.found"] is False
    assert kafka["spec"]["entityOperator"]["userOperator"] is not None


def strimzi_acls(user: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    out = set()
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        assert rule.get("type", "allow") == "allow"
        for operation in rule["operations"]:
            out.add(
                (
                    resource["type"],
                    resource["name"],
                    # Strimzi says "prefix" where Kafka's AclBinding says PREFIXED
                    {"prefix": "prefixed"}.get(
                        resource.get("patternType", "literal"), resource.get("patternType", "literal")
                    ),
                    rule.get("host", "*"),
                    operation.lower(),
                )
            )
    return out


def test_kafka_users_are_the_acl_plan() -> None:
    """Each service's KafkaUser grants exactly what shared/kafka_access grants it on compose and
    locally (the admin step's AclBindings, with no namespace): not one ACL more or less."""
    users = of_kind("KafkaUser")
    assert set(users) == {*PRINCIPALS, MONITOR_PRINCIPAL}  # the services and the lag exporter
    plan: dict[str, set[tuple[str, str, str, str, str]]] = {name: set() for name in users}
    for binding in acl_bindings("") + monitor_acl_bindings(""):
        b: Any = binding
        assert b.permission_type.name == "ALLOW"
        plan[b.principal.removeprefix("User:")].add(
            (b.restype.name.lower(), b.name, b.resource_pattern_type.name.lower(), b.host, b.operation.name.lower())
        )
    cluster = next(iter(of_kind("Kafka")))
    deployments = of_kind("Deployment")
    for name, user in users.items():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert strimzi_acls(user) == plan[name], name
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        # the password the User Operator sets is the one the service's pods log in with
        password = user["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]
        if name == MONITOR_PRINCIPAL:
            (container,) = deployments["lag-exporter"]["spec"]["template"]["spec"]["containers"]
            assert env_of(container)["KAFKA_USERNAME"]["value"] == MONITOR_PRINCIPAL
            assert secret_ref(env_of(container)["KAFKA_PASSWORD"]) == (password["name"], password["key"])
            continue
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert secret_ref(env_of(container)[f"{name.upper()}_KAFKA_PASSWORD"]) == (password["name"], password["key"])


def test_acl_comparison_notices_an_extra_grant() -> None:
    user = of_kind("KafkaUser")["filing"]
    widened = {**user, "spec": {**user["spec"], "authorization": dict(user["spec"]["authorization"])}}
    widened["spec"]["authorization"]["acls"] = [
        *user["spec"]["authorization"]["acls"],
        {
            "resource": {"type": "topic", "name": "childcare.ledger.changes", "patternType": "literal"},
            "operations": ["Write"],
            "host": "*",
        },
    ]
    assert strimzi_acls(widened) != strimzi_acls(user)
    assert ("topic", "childcare.ledger.changes", "literal", "*", "write") in strimzi_acls(widened) - strimzi_acls(user)
