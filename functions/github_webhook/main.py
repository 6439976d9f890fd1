"""github-webhook: GitHub's webhook endpoint, and the consumer of webhooks relayed via Kafka.

Plain HTTP POST from GitHub: verify ``X-Hub-Signature-256`` against every configured secret
(a missing or forged signature → 401, stored nowhere), store the delivery once, project it,
publish the ``com.github.*`` CloudEvent to ``K_SINK`` (the Broker) and answer 200 with the same
event in binary mode. A CloudEvent request (the KafkaSource path: Kafka ``github.*`` →
KafkaSource → Broker → here) is processed the same way and the event is the reply, which the
Broker routes on. See :mod:`functions.github_webhook.usecase` for the event's attributes.

The HTTP gate is the runtime's (:mod:`shared.runtime.gate`): ``GET``/``HEAD`` answer readiness,
other methods 405, and the body limit is ``github_webhook_max_body_bytes`` (25 MiB: GitHub caps
payloads at 25 MB), 4/3 of it plus 64 KiB for a relayed Kafka record carrying the body as
base64. A rejected delivery is filed under its ``X-GitHub-Delivery`` id, so an operator finds it
by GitHub's id (forged ones, 401, are stored nowhere).

No route table (:mod:`shared.runtime.routing`): what a delivery is comes from GitHub's
``X-GitHub-Event`` header (or the relayed record), not from a CloudEvent type; the Trigger
selects the KafkaSource by type and source (``tests/unit/functions/test_routes.py``: type-agnostic).
"""

from __future__ import annotations

import flask

from functions.github_webhook.signature import HEADER, verify
from functions.github_webhook.usecase import (
    delivery_from_record,
    parse_delivery,
    publish,
    store_and_project,
)
from shared import bootstrap
from shared.runtime.envelope import read_event
from shared.runtime.gate import read_body, readiness
from shared.runtime.handler import event_response, failure_response

CONSUMER = "github-webhook"


def handle(request: flask.Request) -> flask.Response:
    """The HTTP entrypoint (functions-framework ``http`` signature)."""
    if request.method in ("GET", "HEAD"):
        return readiness(CONSUMER)
    deps = bootstrap.container()
    headers = dict(request.headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    is_cloudevent = "ce-specversion" in lowered or (request.content_type or "").startswith(
        "application/cloudevents+json"
    )
    limit = deps.settings.github_webhook_max_body_bytes
    if is_cloudevent:
        limit = limit * 4 // 3 + 64 * 1024
    body = b""
    try:
        body = read_body(request, limit)
        if is_cloudevent:
            return _from_kafka(deps, headers, body)
        verify(body, request.headers.get(HEADER), deps.settings.github_webhook_secrets)
        delivery = parse_delivery(headers, body)
        event, published = store_and_project(deps.db, delivery)
        if not published:
            publish(deps.db, deps.broker(), deps.settings, event)
        return event_response(event)
    except Exception as exc:  # the runtime's delivery contract (shared.runtime.handler)
        attributes = {
            "id": lowered.get("ce-id") or lowered.get("x-github-delivery"),
            "source": lowered.get("ce-source") or "/github",
            "type": lowered.get("ce-type") or "github.webhook",
        }
        return failure_response(
            deps,
            CONSUMER,
            exc,
            attributes=attributes,
            data=body,
            what="webhook",
            retry_hint="redeliver the webhook",
        )


def _from_kafka(deps: bootstrap.Container, headers: dict[str, str], body: bytes) -> flask.Response:
    """A webhook relayed through Kafka: verify when the record kept the signature and raw body,
    store and project, and reply with the event (no K_SINK publish: the reply reaches the
    Broker)."""
    envelope = read_event(headers, body)
    delivery, raw, signature = delivery_from_record(envelope.json(), envelope.extensions)
    if raw is not None and signature is not None:
        verify(raw, signature, deps.settings.github_webhook_secrets)
    event, _ = store_and_project(deps.db, delivery)
    return event_response(event)
