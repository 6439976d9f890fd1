"""OTLP export (issue 8): with ``CODEX_JUDGE_OTEL_EXPORTER=otlp`` a function's process sends the
span of every event it handles, and its metrics, to the collector named by the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``, as OTLP/HTTP protobuf POSTs to ``/v1/traces`` and
``/v1/metrics``.

The function runs as in its container: ``codex-judge serve`` in a process of its own (the tracer
provider is global and set once per process, so this cannot share the test's process with the
in-memory exporter of test_tracing.py), configured only through its environment. A small HTTP
server on the loopback interface stands in for the collector and decodes what it receives with
the OpenTelemetry protocol's own protobuf messages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from werkzeug.wrappers import Request, Response

from shared.local.fakes.base import serve_fake

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
WAIT_S = 60.0  # an upper bound for start-up and export, never a measured duration


@dataclass
class Collector:
    """What the stand-in collector received: decoded export requests, by signal."""

    url: str
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def spans(self) -> list[tuple[str, Span]]:
        """(service.name, span) for every span received so far."""
        out: list[tuple[str, Span]] = []
        for request in self.traces:
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    ),
                    "",
                )
                for scope_spans in resource_spans.scope_spans:
                    out.extend((service, span) for span in scope_spans.spans)
        return out

    def metric_names(self) -> set[str]:
        return {
            metric.name
            for request in self.metrics
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        }


@pytest.fixture
def collector() -> Iterator[Collector]:
    """An OTLP/HTTP receiver on 127.0.0.1 that keeps every export request it is sent."""
    received = Collector(url="")

    @Request.application  # type: ignore[misc]
    def app(request: Request) -> Response:
        body = request.get_data()
        with received.arrived:
            received.content_types.add(request.content_type or "")
            if request.path == "/v1/traces":
                received.traces.append(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
            elif request.path == "/v1/metrics":
                received.metrics.append(ExportMetricsServiceRequest.FromString(body))
                answer = ExportMetricsServiceResponse().SerializeToString()
            else:
                return Response(status=404)
            received.arrived.notify_all()
        return Response(answer, content_type="application/x-protobuf")

    served = serve_fake(app)
    received.url = served.url
    yield received
    served.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def notify_process(database_url: str, collector: Collector, tmp_path: Path) -> Iterator[str]:
    """``notify`` served by ``codex-judge serve`` in its own process, exporting over OTLP."""
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "FUNCTION_SOURCE": "functions/notify/main.py",
        "FUNCTION_TARGET": "handle",
        "FUNCTION_SIGNATURE_TYPE": "http",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "THREADS": "1",
        "DATABASE_URL": database_url,
        "CODEX_JUDGE_FUNCTION_NAME": "notify",
        "CODEX_JUDGE_DATA_DIR": str(tmp_path / "data"),
        "CODEX_JUDGE_OTEL_EXPORTER": "otlp",
        # Read by the exporter and the SDK themselves, as in the production overlay.
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
    }
    command = [str(Path(sys.executable).parent / "codex-judge"), "serve"]
    log = tmp_path / "notify.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert process.poll() is None, log.read_text()
            try:
                httpx.get(url, timeout=1.0)  # any answer: gunicorn's worker is serving
                break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"notify never became ready:\n{log.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_handled_event_reaches_the_collector_as_an_otlp_span_with_its_metrics(
    notify_process: str, collector: Collector
) -> None:
    notice = b'{"workflow_uid": "otlp-test-uid", "summary": "exported"}'
    resp = httpx.post(
        notify_process,
        content=notice,
        headers={
            "ce-specversion": "1.0",
            "ce-id": "otlp-1",
            "ce-source": "/codex/wrapper",
            "ce-type": "io.codexjudge.run.notify.v1",
            "ce-traceparent": PARENT,
            "content-type": "application/json",
        },
        timeout=30.0,
    )
    assert resp.status_code < 300, resp.text

    with collector.arrived:
        collector.arrived.wait_for(
            lambda: (
                any(s.name == "notify process" for _, s in collector.spans())
                and "codexjudge.events" in collector.metric_names()
            ),
            timeout=WAIT_S,
        )
        spans = [(svc, s) for svc, s in collector.spans() if s.name == "notify process"]
        metric_names = collector.metric_names()

    assert collector.content_types == {"application/x-protobuf"}
    assert len(spans) == 1, [s.name for _, s in collector.spans()]
    service, span = spans[0]
    assert service == "notify"
    assert span.trace_id.hex() == TRACE_ID
    assert span.parent_span_id.hex() == "00f067aa0ba902b7"
    attributes = {a.key: a.value.string_value for a in span.attributes}
    assert attributes["cloudevents.event_id"] == "otlp-1"
    assert attributes["cloudevents.event_type"] == "io.codexjudge.run.notify.v1"
    assert {"codexjudge.events", "codexjudge.event.duration"} <= metric_names
