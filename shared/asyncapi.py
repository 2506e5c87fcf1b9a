"""The AsyncAPI 3.0 document of the platform's events, generated from the event catalogue and the topic
definitions: never maintained by hand.

* one channel per topic (``shared.topics``), with its Kafka binding (production partitions, replicas,
  topic configuration) and every message type registered for that topic;
* one message per event type (``shared.events.CATALOGUE``): the CloudEvents 1.0 envelope in structured
  JSON mode, whose ``data`` is the event model's JSON Schema (pydantic, serialization mode, as
  ``model_dump(mode="json")`` puts it on the wire); the Kafka key is the envelope's ``subject``;
* one ``send`` operation per topic, owned by the service that produces it;
* one dead-letter channel per consumer (``childcare.dlq.<consumer>``, ``shared.kafka_access``) with
  its ``send`` operation: the poison record's value byte for byte, the reason in ``dlq-*`` headers.

``python -m shared.asyncapi`` prints the YAML; ``python -m shared.asyncapi --write`` updates
``docs/asyncapi.yaml`` (tests/ops fails when the committed file drifts from the catalogue).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from shared.events import CATALOGUE, CONTENT_TYPE, CloudEvent, EventData
from shared.events.catalogue import TYPE_PREFIX
from shared.kafka_access import PRINCIPALS
from shared.topics import TopicSpec, dead_letter_topic, topic_specs

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.yaml"
KAFKA_BINDING = "0.5.0"
# Production topology (deploy/k8s/kafka.yaml and docs/scaling.md): three brokers, replication 3,
# min.insync.replicas 2, the settings' default partition count for domain topics.
PRODUCTION_PARTITIONS = 6
PRODUCTION_REPLICAS = 3
PRODUCTION_MIN_ISR = 2
SCHEMA_REF = "#/components/schemas/{model}"

# Who produces what: the service segment of the event type, and the topic it writes.
PRODUCERS = {
    "childcare.filing.events": "filing",
    "childcare.inspection.events": "inspection",
    "childcare.credit.events": "credit",
    "childcare.ledger.changes": "reporting",
}
KEYS = {
    "childcare.filing.events": "institution id: one institution's history stays in order",
    "childcare.inspection.events": "aggregate id (plan, task or institution, see each message)",
    "childcare.credit.events": "credit subject id (institution id or person_ref)",
    "childcare.ledger.changes": "source event subject (the ledger topic has one partition: total order)",
}


def _camel(text: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", text)
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _channel_id(topic: str) -> str:
    return _camel(topic.removeprefix("childcare."))


def _message_id(event_type: str) -> str:
    # cn.gov.gz.childcare.filing.institution.submitted.v1 -> filingInstitutionSubmittedV1
    return _camel(event_type.removeprefix(TYPE_PREFIX))


def _summary(model: type[EventData]) -> str:
    doc = (model.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def _envelope_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema(mode="serialization")
    schema.pop("title", None)
    schema["description"] = (
        "CloudEvents 1.0 envelope, structured JSON mode (content type application/cloudevents+json). "
        "The platform requires time, subject and datacontenttype; subject is the aggregate id and the Kafka key. "
        "Extension attributes are allowed if their names are 1-20 characters of a-z0-9."
    )
    schema["required"] = sorted(set(schema.get("required", [])) | {"specversion", "datacontenttype"})
    schema["properties"]["time"]["format"] = "date-time"
    return schema


def _payload_schemas(models: list[type[EventData]]) -> tuple[dict[str, dict[str, Any]], dict[type[EventData], str]]:
    keyed, definitions = models_json_schema([(m, "serialization") for m in models], ref_template=SCHEMA_REF)
    names = {}
    for model in models:
        ref = keyed[(model, "serialization")]["$ref"]
        names[model] = ref.rsplit("/", 1)[-1]
    return definitions.get("$defs", {}), names


def build(specs: list[TopicSpec] | None = None) -> dict[str, Any]:
    """The AsyncAPI document as a plain dict (deterministic: sorted by topic and event type)."""
    specs = specs or topic_specs(
        PRODUCTION_PARTITIONS, replication_factor=PRODUCTION_REPLICAS, min_insync_replicas=PRODUCTION_MIN_ISR
    )
    by_topic: dict[str, list[type[EventData]]] = {}
    for event_type in sorted(CATALOGUE):
        model = CATALOGUE[event_type]
        by_topic.setdefault(model.topic, []).append(model)
    unknown = set(by_topic) - {s.name for s in specs}
    if unknown:
        raise ValueError(f"events registered on topics that are not defined in shared.topics: {sorted(unknown)}")

    models = [CATALOGUE[t] for t in sorted(CATALOGUE)]
    schemas, schema_names = _payload_schemas(models)
    components_schemas: dict[str, Any] = {"CloudEventEnvelope": _envelope_schema(), **dict(sorted(schemas.items()))}

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in specs:
        channel = _channel_id(spec.name)
        topic_models = by_topic.get(spec.name, [])
        channel_messages = {}
        for model in topic_models:
            message = _message_id(model.event_type)
            channel_messages[message] = {"$ref": f"#/components/messages/{message}"}
            messages[message] = {
                "name": model.event_type,
                "title": model.__name__,
                "summary": _summary(model),
                "contentType": CONTENT_TYPE,
                "headers": {
                    "type": "object",
                    "properties": {"content-type": {"type": "string", "const": CONTENT_TYPE}},
                },
                "payload": {
                    "allOf": [
                        {"$ref": "#/components/schemas/CloudEventEnvelope"},
                        {
                            "type": "object",
                            "properties": {
                                "type": {"type": "string", "const": model.event_type},
                                "data": {"$ref": SCHEMA_REF.format(model=schema_names[model])},
                            },
                        },
                    ]
                },
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "description": f"= the envelope's subject: {KEYS[spec.name]}"},
                        "bindingVersion": KAFKA_BINDING,
                    }
                },
            }
        config: dict[str, Any] = {}
        for name, value in sorted(spec.config.items()):
            config[name] = int(value) if re.fullmatch(r"-?\d+", value) else value
        channels[channel] = {
            "address": spec.name,
            "title": spec.name,
            "description": (
                f"Produced by the {PRODUCERS[spec.name]} service through its transactional outbox. "
                f"Kafka key: {KEYS[spec.name]}. Records are kept forever (the ledger and read models can be rebuilt)."
            ),
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "replicas": spec.replication_factor,
                    "topicConfiguration": config,
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
        if topic_models:
            operations[f"{PRODUCERS[spec.name]}Publishes{channel[:1].upper()}{channel[1:]}"] = {
                "action": "send",
                "title": f"{PRODUCERS[spec.name]} publishes to {spec.name}",
                "summary": "Relayed from the outbox table, at least once; consumers dedupe on the envelope id.",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in channel_messages],
                "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING}},
            }

    _dead_letter_channels(channels, operations, messages)

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Guangzhou childcare supervision platform: events",
            "version": "1.0.0",
            "description": (
                "Every event the four services (filing, inspection, credit, reporting) exchange over Apache Kafka. "
                "Generated from the shared event catalogue (shared/events) and topic definitions (shared/topics) by "
                "`python -m shared.asyncapi --write`; do not edit by hand. Event types are versioned "
                "(`...v<N>`); an incompatible change is a new type, and old versions stay readable through upcasters."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "production": {
                "host": "childcare-kafka-kafka-bootstrap.childcare.svc:9092",
                "protocol": "kafka",
                "description": "Strimzi-managed Kafka cluster (deploy/k8s/kafka.yaml), in-cluster listener.",
            },
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The single local broker of `./dev run` (replication 1).",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": dict(sorted(messages.items())), "schemas": components_schemas},
    }


DEAD_LETTER_HEADERS = {
    "dlq-reason": "why: undecodable, invalid_envelope, unknown_event_type, invalid_payload, upcast_cycle, "
    "source_mismatch or handler_failed",
    "dlq-error": "the error, at most 4,000 characters",
    "dlq-original-topic": "the topic the record was read from",
    "dlq-original-partition": "its partition (decimal)",
    "dlq-original-offset": "its offset (decimal)",
    "dlq-consumer": "the consumer that gave up on it",
    "dlq-failed-at": "when (ISO 8601, UTC)",
}


def _dead_letter_channels(channels: dict[str, Any], operations: dict[str, Any], messages: dict[str, Any]) -> None:
    """One channel per consumer's dead-letter topic (created with the domain topics: one partition,
    kept forever), written by the consumer only (ACL WRITE), read by operators."""
    messages["DeadLetter"] = {
        "name": "dead-letter",
        "title": "Dead-lettered record",
        "summary": "A record its consumer could not process, copied unchanged with the reason in headers.",
        "description": (
            "The value and key are the original record's, byte for byte (it may not be a valid event: often "
            "that is why it is here), and its own headers come first. The consumer commits the original "
            "offset only after this topic acknowledged the copy. See docs/runbook.md for inspecting and "
            "replaying dead letters."
        ),
        "headers": {
            "type": "object",
            "properties": {name: {"type": "string", "description": text} for name, text in DEAD_LETTER_HEADERS.items()},
            "required": sorted(DEAD_LETTER_HEADERS),
        },
        "payload": {"description": "the original record's value (bytes; usually a CloudEvent in JSON)"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the original record's key"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }
    for consumer in sorted(c for p in PRINCIPALS.values() for c in p.consumers):
        topic = dead_letter_topic("", consumer)
        channel = _channel_id(topic)
        channels[channel] = {
            "address": topic,
            "title": topic,
            "description": (
                f"Dead letters of the {consumer} consumer: records it could not decode, did not accept or whose "
                "handler failed. One partition; kept forever."
            ),
            "messages": {"deadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {
                "kafka": {
                    "topic": topic,
                    "partitions": 1,
                    "replicas": PRODUCTION_REPLICAS,
                    "topicConfiguration": {"min.insync.replicas": PRODUCTION_MIN_ISR, "retention.ms": -1},
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
        operations[f"{consumer}DeadLetters"] = {
            "action": "send",
            "title": f"{consumer} dead-letters to {topic}",
            "summary": "Sent by the consumer's dead-letter producer before it commits the original offset.",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/deadLetter"}],
            "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING}},
        }


def render(document: dict[str, Any] | None = None) -> str:
    body = yaml.safe_dump(document or build(), sort_keys=False, allow_unicode=True, width=120)
    return (
        "# Generated by `python -m shared.asyncapi --write` from shared/events and shared/topics. Do not edit.\n" + body
    )


def main(argv: list[str]) -> int:
    text = render()
    if "--write" in argv:
        DOCUMENT.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
