"""``LocalBroker``: a Knative Broker, its Triggers, KafkaSources and PingSources on one port.

Read from the real manifests (:func:`shared.local.mesh.manifests.load_manifests`), it serves:

* ``POST /<namespace>/<broker>`` — the Broker ingress (Knative's path layout). Binary or
  structured CloudEvents are accepted with 202 (400 with a JSON error naming the field for
  anything else); each event is fanned out asynchronously to every Trigger whose filter
  matches, in binary mode, with the Trigger's delivery (falling back field by field to the
  Broker's). A CloudEvent in a subscriber's 200 answer is a reply and comes back in here.
* ``POST /_mesh/kafka/<topic>`` — a Kafka record (body = value bytes, ``X-Kafka-Key``
  optional, ``X-Kafka-Offset`` pins the offset so a replay is a true duplicate), wrapped as
  each KafkaSource reading ``topic`` wraps it and delivered to that source's sink with the
  source's delivery. Answers 202 ``{"topic", "partition", "offset", "sources"}``.
* A destination (subscriber, source sink or dead-letter sink) whose ref is a **KafkaSink**
  appends the event to the sink's topic as the KafkaSink stores it (``ce_`` headers in binary
  mode, :mod:`shared.local.mesh.kafka`); the KafkaSources reading that topic then deliver it like
  any record: a record that is a CloudEvent is delivered as that CloudEvent.
* ``GET /_mesh/stats`` — ``{accepted, delivered, retried, dead_lettered, replies, dropped,
  duplicated, in_flight, topics, log}`` (``duplicated``: deliveries made twice on purpose,
  :meth:`LocalBroker.duplicate_deliveries`; ``dead_lettered``: events handed to a dead-letter sink;
  ``topics``: records appended per topic; ``log``: the last 500 attempts: id, type,
  subscriber, status, attempt).
* ``GET /_mesh/idle?quiet_ms=N`` — ``{"idle": bool}``: nothing queued or in flight and no
  activity for N ms (default 200).

PingSources emit ``dev.knative.sources.ping`` to their sinks every ``ping_interval_s`` seconds
(the cron ``schedule`` is not interpreted: locally, a tick is a tick). Source: DESIGN §8.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import flask
from werkzeug.serving import BaseWSGIServer, make_server

from shared.errors import MalformedEventError
from shared.local.mesh import filters
from shared.local.mesh.delivery import DeliveryPolicy
from shared.local.mesh.dispatcher import LOG_SIZE, Dispatcher, Target
from shared.local.mesh.kafka import KafkaRecord, sink_record, source_event
from shared.local.mesh.manifests import DeliverySpec, Destination, KafkaSink, Manifests
from shared.local.mesh.wire import attributes, is_wake_up, ping_event
from shared.runtime.envelope import Envelope, read_event

log = logging.getLogger("codex_judge.mesh.broker")

BROKER_INGRESS_HOST = "kafka-broker-ingress.knative-eventing.svc.cluster.local"
SINK_INGRESS_HOST = "kafka-sink-ingress.knative-eventing.svc.cluster.local"


class LocalBroker:
    """The local broker (see the module docstring).

    Args:
        manifests: the parsed manifests; exactly one Broker.
        service_urls: Knative Service name → the local URL serving that function.
        time_scale: multiplies every backoff and ``Retry-After`` wait (0.01 = 100 times faster);
            attempt timeouts are not scaled.
        ping_interval_s: seconds between PingSource ticks; 0 disables them.
        workers: concurrent deliveries at most.

    Raises:
        ValueError: a Trigger filter is invalid, a duration is malformed, or a subscriber or
            dead-letter sink names a Service missing from ``service_urls``.
    """

    def __init__(
        self,
        manifests: Manifests,
        service_urls: dict[str, str],
        *,
        time_scale: float = 1.0,
        ping_interval_s: float = 0.0,
        workers: int = 8,
    ) -> None:
        self.manifests = manifests
        self.broker = manifests.broker()
        self.path = f"/{self.broker.namespace}/{self.broker.name}"
        self._service_urls = dict(service_urls)
        self._ping_interval_s = ping_interval_s
        self._base_url = ""
        self._lock = threading.Lock()
        self._accepted = 0
        self._offsets: dict[str, int] = defaultdict(int)
        self._records: dict[str, deque[KafkaRecord]] = defaultdict(lambda: deque(maxlen=LOG_SIZE))
        self._sinks = {(k.namespace, k.name): k for k in manifests.kafka_sinks}
        self._triggers = manifests.triggers_of(self.broker)
        for trigger in self._triggers:
            filters.validate(trigger.filters)
        self._targets = {
            t.name: self._target(t.subscriber, t.name, t.delivery, replies=True)
            for t in self._triggers
        }
        self._dispatcher = Dispatcher(self.ingest, workers=workers, time_scale=time_scale)
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    # --- lifecycle ---

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port); returns the base URL."""
        self._server = make_server(host, port, self.app(), threaded=True)
        self._base_url = f"http://{host}:{self._server.server_port}"
        server = self._server
        # A short poll keeps stop() quick (shutdown waits for the next poll).
        self._spawn(lambda: server.serve_forever(poll_interval=0.05), "mesh-http")
        if self._ping_interval_s > 0 and self.manifests.ping_sources:
            self._spawn(self._ping_loop, "mesh-ping")
        return self._base_url

    @property
    def ingress_url(self) -> str:
        """The Broker ingress URL (``<base>/<namespace>/<broker>``)."""
        return self._base_url + self.path

    def stop(self) -> None:
        """Stop the HTTP server, the ticks and the workers (queued deliveries are dropped)."""
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._dispatcher.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- routing ---

    def ingest(self, event: Envelope) -> list[str]:
        """Accept ``event`` into the Broker; returns the names of the Triggers it matched."""
        attrs = attributes(event)
        matched = [
            t.name
            for t in self._triggers
            if filters.trigger_matches(t.attributes, t.filters, attrs)
        ]
        with self._lock:
            self._accepted += 1
        if not is_wake_up(event):  # ticks and timers.due are not activity (Dispatcher.idle)
            self._dispatcher.touch()
        for name in matched:
            self._dispatcher.submit(event, self._targets[name])
        return matched

    def publish_kafka(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        offset: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, list[str]]:
        """Append a record to ``topic`` and deliver it through every KafkaSource reading it.

        Args:
            topic: the topic.
            value: the record value bytes.
            key: the record key, or None.
            offset: pin the offset (a replay of the same record); None appends at the end.
            headers: record headers (UTF-8 text); ``ce_*`` headers make it a CloudEvent.

        Returns:
            (the record's offset, the names of the KafkaSources that will deliver it).
        """
        record = KafkaRecord(topic=topic, value=value, key=key, headers=dict(headers or {}))
        return self.produce(record, offset=offset)

    def produce(self, record: KafkaRecord, *, offset: int | None = None) -> tuple[int, list[str]]:
        """Append ``record`` to its topic (at ``offset``, or the end) and deliver it through
        every KafkaSource reading that topic; returns (its offset, those sources' names)."""
        topic = record.topic
        with self._lock:
            if offset is None:
                offset = self._offsets[topic]
            self._offsets[topic] = max(self._offsets[topic], offset + 1)
            record = dataclasses.replace(
                record, offset=offset, timestamp=record.timestamp or datetime.now(UTC)
            )
            self._records[topic].append(record)
        sources = [s for s in self.manifests.kafka_sources if topic in s.topics]
        for source in sources:
            event = source_event(source.namespace, source.name, record)
            self._dispatcher.submit(
                event,
                self._target(
                    source.sink, source.name, source.delivery, replies=False, inherit=False
                ),
            )
        return offset, [s.name for s in sources]

    def reserve(self, topic: str, count: int) -> int:
        """Move ``topic``'s end past ``count`` offsets and return the first of them: records
        a caller publishes at those offsets later (a log replayed, with redeliveries at the
        same offset) are never given to a record appended meanwhile — Kafka never gives one
        offset to two records, and two records at one offset share a CloudEvent id, so the
        later one is answered as a duplicate."""
        with self._lock:
            first = self._offsets[topic]
            self._offsets[topic] = first + count
            return first

    def records(self, topic: str) -> list[KafkaRecord]:
        """The last 500 records appended to ``topic``, oldest first."""
        with self._lock:
            return list(self._records.get(topic, ()))

    def stats(self) -> dict[str, Any]:
        """The ``/_mesh/stats`` document."""
        with self._lock:
            accepted = self._accepted
            topics = dict(self._offsets)
        return {"accepted": accepted, **self._dispatcher.stats(), "topics": topics}

    def duplicate_deliveries(self, share: float, seed: int) -> None:
        """Deliver ``share`` (0..1) of the events to Trigger subscribers twice, seeded by
        ``seed`` (Knative's at-least-once delivery; :meth:`Dispatcher.duplicate`)."""
        self._dispatcher.duplicate(share, seed)

    def idle(self, quiet_s: float) -> bool:
        """Nothing queued or in flight and no activity for ``quiet_s`` seconds."""
        return self._dispatcher.idle(quiet_s)

    def _ping_loop(self) -> None:
        while not self._stopped.wait(self._ping_interval_s):
            for ping in self.manifests.ping_sources:
                event = ping_event(ping.namespace, ping.name, ping.data, ping.content_type)
                self._dispatcher.submit(
                    event, self._target(ping.sink, ping.name, None, replies=False, inherit=False)
                )

    # --- destinations ---

    def _target(
        self,
        dest: Destination,
        owner: str,
        delivery: DeliverySpec | None,
        *,
        replies: bool,
        inherit: bool = True,
    ) -> Target:
        spec = _merge(self.broker.delivery, delivery) if inherit else delivery
        policy = DeliveryPolicy.from_spec(spec)
        sink = spec.dead_letter_sink if spec is not None else None
        dead_letter = (
            Target(
                name=self._name(sink, owner),
                url=self._url(sink, owner),
                destination=self._destination(sink),
                policy=policy,
                append=self._appender(sink, owner),
            )
            if sink is not None
            else None
        )
        return Target(
            name=self._name(dest, owner),
            url=self._url(dest, owner),
            destination=self._destination(dest),
            policy=policy,
            dead_letter=dead_letter,
            replies=replies,
            append=self._appender(dest, owner),
        )

    def _name(self, dest: Destination, owner: str) -> str:
        return dest.ref.name if dest.ref is not None else str(dest.uri or owner)

    def _kafka_sink(self, dest: Destination, owner: str) -> KafkaSink | None:
        ref = dest.ref
        if ref is None or ref.kind != "KafkaSink":
            return None
        key = (ref.namespace or self.broker.namespace, ref.name)
        if key not in self._sinks:
            raise ValueError(
                f"{owner}: KafkaSink {ref.name!r} is not in the manifests; "
                f"known: {sorted(name for _, name in self._sinks)}"
            )
        return self._sinks[key]

    def _appender(self, dest: Destination, owner: str) -> Callable[[Envelope], object] | None:
        sink = self._kafka_sink(dest, owner)
        if sink is None:
            return None
        return lambda event: self.produce(sink_record(event, sink.topic, sink.content_mode))

    def _url(self, dest: Destination, owner: str) -> str:
        ref = dest.ref
        if self._kafka_sink(dest, owner) is not None:
            return ""  # appended in process (Target.append)
        if ref is not None and ref.kind == "Broker":
            return self.ingress_url
        if ref is not None and ref.kind == "Service":
            if ref.name not in self._service_urls:
                raise ValueError(
                    f"{owner}: Service {ref.name!r} has no local URL; "
                    f"known: {sorted(self._service_urls)}"
                )
            return self._service_urls[ref.name]
        if dest.uri and "://" in dest.uri:
            return dest.uri
        raise ValueError(f"{owner}: cannot resolve destination {dest.model_dump(by_alias=True)}")

    def _destination(self, dest: Destination) -> str:
        ref = dest.ref
        if ref is None:
            return str(dest.uri)
        ns = ref.namespace or self.broker.namespace
        if ref.kind == "Broker":
            return f"http://{BROKER_INGRESS_HOST}/{ns}/{ref.name}"
        if ref.kind == "KafkaSink":
            return f"http://{SINK_INGRESS_HOST}/{ns}/{ref.name}"
        return f"http://{ref.name}.{ns}.svc.cluster.local"

    # --- HTTP ---

    def app(self) -> flask.Flask:
        """The WSGI app: the ingress and the ``/_mesh`` endpoints."""
        app = flask.Flask("codex_judge_mesh")

        @app.post(self.path)
        def ingress() -> flask.Response:
            try:
                event = read_event(dict(flask.request.headers), flask.request.get_data())
            except MalformedEventError as exc:
                return _json(400, exc.body())
            self.ingest(event)
            return flask.Response(b"", status=202)

        @app.post("/_mesh/kafka/<topic>")
        def kafka(topic: str) -> flask.Response:
            raw_offset = flask.request.headers.get("X-Kafka-Offset")
            if raw_offset is not None and not raw_offset.strip().isdigit():
                return _json(
                    400,
                    {
                        "error": "MalformedRecord",
                        "field": "X-Kafka-Offset",
                        "message": f"expected a non-negative integer, got {raw_offset!r}",
                    },
                )
            offset, sources = self.publish_kafka(
                topic,
                flask.request.get_data(),
                key=flask.request.headers.get("X-Kafka-Key"),
                offset=int(raw_offset) if raw_offset is not None else None,
            )
            return _json(
                202, {"topic": topic, "partition": 0, "offset": offset, "sources": sources}
            )

        @app.get("/_mesh/stats")
        def stats() -> flask.Response:
            return _json(200, self.stats())

        @app.get("/_mesh/idle")
        def idle() -> flask.Response:
            raw = flask.request.args.get("quiet_ms", "200")
            if not raw.isdigit():
                return _json(
                    400,
                    {
                        "error": "BadRequest",
                        "field": "quiet_ms",
                        "message": f"expected milliseconds as an integer, got {raw!r}",
                    },
                )
            return _json(200, {"idle": self.idle(int(raw) / 1000.0)})

        return app


def _merge(base: DeliverySpec | None, override: DeliverySpec | None) -> DeliverySpec | None:
    """A Trigger's delivery over its Broker's, field by field (Knative falls back to the
    Broker's dead-letter sink and delivery when the Trigger sets none)."""
    if base is None or override is None:
        return override or base
    fields = {**base.model_dump(exclude_none=True), **override.model_dump(exclude_none=True)}
    return DeliverySpec.model_validate(fields)


def _json(status: int, body: dict[str, Any]) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")
