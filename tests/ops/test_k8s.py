"""deploy/k8s: the built-in Kubernetes kinds are validated offline against the Kubernetes OpenAPI
schemas that the ``kubernetes-validate`` package carries (strict: unknown fields fail). The Strimzi
(kafka.strimzi.io) and CloudNativePG (postgresql.cnpg.io) custom resources have no schema there:
they get a structural check here (required fields, production replication, agreement with
shared/topics.py), not a CRD-schema validation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.topics import dead_letter_topic, topic_specs
from tests.ops.conftest import ROOT

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"
SERVICES = {"filing": 8001, "inspection": 8002, "credit": 8003, "reporting": 8004}
CUSTOM = {
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "Database"),
}
PARTITIONS = 6


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
    assert checked["Deployment"] == checked["PodDisruptionBudget"] == checked["HorizontalPodAutoscaler"] == 4
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
    env = {e["name"]: e for e in container["env"]}
    prefix = service.upper()
    for name in ("DATABASE_URL", "JWT_SECRET", "PII_HMAC_SECRET", "PII_ENCRYPTION_SECRET"):
        assert "secretKeyRef" in env[f"{prefix}_{name}"]["valueFrom"]
    assert "Secret" not in {d["kind"] for _, d in resources()}
    config = of_kind("ConfigMap")[container["envFrom"][0]["configMapRef"]["name"]]["data"]
    assert config[f"{prefix}_ENVIRONMENT"] == "production"
    assert config[f"{prefix}_TOPIC_REPLICATION_FACTOR"] == "3"
    assert config[f"{prefix}_TOPIC_MIN_INSYNC_REPLICAS"] == "2"
    assert int(config[f"{prefix}_TOPIC_PARTITIONS"]) == PARTITIONS
    assert config[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"].startswith(f"{next(iter(of_kind('Kafka')))}-kafka-bootstrap.")
    assert not any(key.endswith(("SECRET", "DATABASE_URL")) for key in config)
    # the disruption budget and the autoscaler cover exactly this deployment
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = of_kind("PodDisruptionBudget")[service]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = of_kind("HorizontalPodAutoscaler")[service]["spec"]
    assert hpa["scaleTargetRef"]["name"] == service
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"] <= PARTITIONS  # replicas beyond the partitions idle
    assert pdb["spec"]["minAvailable"] < hpa["minReplicas"]  # a node drain can always proceed


def test_migration_job_migrates_every_database() -> None:
    (job,) = of_kind("Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "devstack.migrate"]
    names = {e["name"] for e in container["env"] if "secretKeyRef" in e["valueFrom"]}
    assert names == {f"{s.upper()}_DATABASE_URL" for s in SERVICES}


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


def test_postgres_cluster_holds_each_services_database() -> None:
    (cluster,) = of_kind("Cluster").values()
    spec = cluster["spec"]
    assert spec["instances"] >= 3
    assert spec["storage"]["size"]
    assert spec["postgresql"]["synchronous"]["number"] >= 1
    owners = {spec["bootstrap"]["initdb"]["database"]: spec["bootstrap"]["initdb"]["owner"]}
    for database in of_kind("Database").values():
        assert database["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        owners[database["spec"]["name"]] = database["spec"]["owner"]
    assert owners == {s: s for s in SERVICES}  # one database per service, each owned by its own role
    roles = {r["name"] for r in spec["managed"]["roles"]} | {spec["bootstrap"]["initdb"]["owner"]}
    assert roles == set(SERVICES)
