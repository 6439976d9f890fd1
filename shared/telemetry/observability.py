"""OpenTelemetry: one span per event, context carried in the ``traceparent`` extension, and
metrics for handled events, their latency and dead letters (DESIGN §10).

The tracer and meter providers are configured once per process by :func:`configure` (the
composition root calls it); until then the OpenTelemetry API's no-op providers make every call
here free. ``otel_exporter`` selects where spans go: ``none`` (default), ``console`` (JSON lines
on stderr), ``memory`` (kept in :data:`MEMORY_EXPORTER`, for tests), or ``otlp``: spans and the
metrics below to an OpenTelemetry collector over OTLP/HTTP (protobuf), batched in the background.
The exporter reads its own standard configuration from the environment
(``OTEL_EXPORTER_OTLP_ENDPOINT``, to which it appends ``/v1/traces`` and ``/v1/metrics``;
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_METRIC_EXPORT_INTERVAL``, …),
and is imported only when selected: it costs import time on every cold start (DESIGN §14).

Span names follow the OpenTelemetry messaging conventions (``<consumer> process``, kind
CONSUMER) with the CloudEvents semantic attributes ``cloudevents.event_id``,
``cloudevents.event_source``, ``cloudevents.event_type`` and ``cloudevents.event_subject``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider


class TracedEvent(Protocol):
    """What a span needs of a CloudEvent (:class:`shared.runtime.envelope.Envelope` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def extensions(self) -> Mapping[str, Any]: ...


_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
_configured = False
MEMORY_EXPORTER: Any = None

_meter = metrics.get_meter("codex-judge")
EVENTS = _meter.create_counter(
    "codexjudge.events", unit="1", description="events handled, by function and HTTP status"
)
EVENT_DURATION = _meter.create_histogram(
    "codexjudge.event.duration", unit="ms", description="time to handle one event"
)
DEAD_LETTERS = _meter.create_counter(
    "codexjudge.dead_letters", unit="1", description="events rejected as malformed, by function"
)


def configure(service_name: str, exporter: str = "none") -> None:
    """Install the SDK tracer provider (and, for ``otlp``, the meter provider) once per process;
    later calls are no-ops.

    Args:
        service_name: the ``service.name`` resource attribute (the Knative Service name).
        exporter: ``none``, ``console``, ``memory`` or ``otlp`` (see the module docstring).
    """
    global _configured, MEMORY_EXPORTER
    with _lock:
        if _configured or exporter == "none":
            return
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        resource = Resource.create({"service.name": service_name})
        provider = TracerProvider(resource=resource)
        if exporter == "memory":
            MEMORY_EXPORTER = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(MEMORY_EXPORTER))
        elif exporter == "otlp":
            _configure_otlp(provider, resource)
        else:
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        trace.set_tracer_provider(provider)
        _configured = True


def _configure_otlp(provider: TracerProvider, resource: Resource) -> None:
    """Spans through a batch processor (an export never delays a reply) and the metrics through
    a periodic reader, both to the collector at ``OTEL_EXPORTER_OTLP_ENDPOINT``. Both flush when
    the process exits (the SDK's shutdown hooks), so a worker stopped by scale-to-zero loses
    nothing it had recorded. The instruments above were made through the API's proxy meter, so
    they start recording into this provider once it is set."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))


@contextlib.contextmanager
def event_span(consumer: str, event: TracedEvent) -> Iterator[trace.Span]:
    """A CONSUMER span for handling ``event``, a child of its ``traceparent`` when present."""
    carrier = {k: v for k, v in event.extensions.items() if k in ("traceparent", "tracestate")}
    parent = _PROPAGATOR.extract(carrier)
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # No SDK provider (exporter ``none``): the API's tracer would start a non-recording span
        # that only carries the parent's context. Making that context current is the same for
        # every caller (:func:`trace_extensions` injects it) without building a span per event.
        token = otel_context.attach(parent)
        try:
            yield trace.get_current_span()
        finally:
            otel_context.detach(token)
        return
    attributes = {
        "faas.name": consumer,
        "cloudevents.event_id": event.id,
        "cloudevents.event_source": event.source,
        "cloudevents.event_type": event.type,
    }
    if event.subject:
        attributes["cloudevents.event_subject"] = event.subject
    tracer = trace.get_tracer("codex-judge")
    with tracer.start_as_current_span(
        f"{consumer} process", context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def trace_extensions() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the current span, for an outgoing event."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


@contextlib.contextmanager
def measured(consumer: str) -> Iterator[dict[str, Any]]:
    """Record the handling time and outcome of one request; the caller sets ``["status"]``."""
    outcome: dict[str, Any] = {"status": 500}
    started = time.perf_counter()
    try:
        yield outcome
    finally:
        labels: dict[str, str | int] = {"function": consumer, "status": int(outcome["status"])}
        EVENTS.add(1, labels)
        EVENT_DURATION.record((time.perf_counter() - started) * 1000.0, labels)
