"""Prometheus metrics of one service process, on its own registry (several apps can share a test
process). Names follow Prometheus conventions: one ``childcare_`` prefix, base units, ``_total``
only on counters, no ids in labels."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

disable_created_metrics()

CONTENT_TYPE_LATEST = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self._domain: dict[str, Gauge] = {}
        self._domain_counters: dict[str, Counter] = {}
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Gauge("childcare_build_info", "Service identity.", ["service"], registry=r)
        self.build_info.labels(service=service).set(1)
        # what serves the process, read from the running process (shared.app.ServiceApp), not from
        # a configuration that could be ignored: the event loop and the HTTP parser
        self.server_info = Gauge(
            "childcare_server_info",
            "The event loop and HTTP implementation serving this process (1 once seen).",
            ["loop", "http"],
            registry=r,
        )
        self.http_requests = Counter(
            "childcare_http_requests", "HTTP requests handled.", ["method", "route", "status_code"], registry=r
        )
        self.http_duration = Histogram(
            "childcare_http_request_duration_seconds",
            "HTTP request duration.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.events_published = Counter(
            "childcare_events_published", "Events published from the outbox to Kafka.", ["type"], registry=r
        )
        self.events_consumed = Counter(
            "childcare_events_consumed",
            "Events consumed, by outcome (applied, duplicate, ignored, dead_lettered).",
            ["consumer", "type", "outcome"],
            registry=r,
        )
        self.event_processing = Histogram(
            "childcare_event_processing_duration_seconds",
            "Time to apply one consumed event (DB transaction included).",
            ["consumer"],
            registry=r,
        )
        self.outbox_pruned = Counter(
            "childcare_outbox_pruned", "Published outbox rows deleted after their retention.", registry=r
        )
        self.inbox_pruned = Counter(
            "childcare_inbox_pruned", "Inbox ids deleted after the topics' retention.", registry=r
        )
        self.outbox_pending = Gauge("childcare_outbox_pending", "Outbox rows not yet published.", registry=r)
        self.outbox_oldest_age = Gauge(
            "childcare_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox row.", registry=r
        )
        self.consumer_lag = Gauge(
            "childcare_consumer_lag",
            "Records behind the partition end.",
            ["consumer", "topic", "partition"],
            registry=r,
        )
        self.dead_letters = Counter(
            "childcare_dead_letter_events", "Events sent to the dead-letter topic.", ["consumer", "reason"], registry=r
        )
        self.consumer_last_processed = Gauge(
            "childcare_consumer_last_processed_timestamp_seconds",
            "When the consumer last finished a record: applied, duplicate, ignored or dead-lettered.",
            ["consumer"],
            registry=r,
        )
        # Liveness, independent of lag and of progress (a hung handler stops both from changing):
        # how long the batch being applied has been running, and when the loop last polled Kafka.
        self.consumer_batch_in_flight = Gauge(
            "childcare_consumer_batch_in_flight_seconds",
            "How long the batch being applied (handlers, inbox, offset commit) has been running; 0 between batches.",
            ["consumer"],
            registry=r,
        )
        self.consumer_last_poll = Gauge(
            "childcare_consumer_last_poll_timestamp_seconds",
            "When the consumer loop last returned from polling Kafka (its start until the first poll).",
            ["consumer"],
            registry=r,
        )

    def gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        """A service's own (domain) gauge on this registry, created once."""
        existing = self._domain.get(name)
        if existing is None:
            existing = Gauge(name, documentation, list(labels), registry=self.registry)
            self._domain[name] = existing
        return existing

    def counter(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
        existing = self._domain_counters.get(name)
        if existing is None:
            existing = Counter(name, documentation, list(labels), registry=self.registry)
            self._domain_counters[name] = existing
        return existing

    def prepare_consumer(self, consumer: str) -> None:
        """Pre-export the series that will exist, so dashboards and alerts see 0, not nothing."""
        self.consumer_last_processed.labels(consumer=consumer)
        for reason in ("undecodable", "invalid_envelope", "unknown_event_type", "invalid_payload", "handler_failed"):
            self.dead_letters.labels(consumer=consumer, reason=reason)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class HttpMetricsMiddleware:
    """RED metrics by route template (``/v1/institutions/{institution_id}``), never by raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # the labelled children, looked up once per label set instead of on every request
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            counted = self._counted.get((method, template, status))
            if counted is None:
                counted = self.metrics.http_requests.labels(method=method, route=template, status_code=str(status))
                self._counted[(method, template, status)] = counted
            counted.inc()
            timed = self._timed.get((method, template))
            if timed is None:
                timed = self.metrics.http_duration.labels(method=method, route=template)
                self._timed[(method, template)] = timed
            timed.observe(elapsed)
