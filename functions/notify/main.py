"""notify: the Codex wrapper's HTTP POST (JSON body, not a CloudEvent), or the same payload in a
CloudEvent. Answers 202 (DESIGN §4).

A plain POST is wrapped in an :class:`~shared.runtime.envelope.Envelope` with source ``/notify``
and id = the ``Idempotency-Key`` header, else ``sha256:<hex of the body>``, and goes through the
same runtime as every CloudEvent, so the inbox answers a retried POST without merging it twice.
Errors follow DESIGN §6: a bad body is 422 naming the field (stored as a dead letter); the
database down is 503.

No route table (:mod:`shared.runtime.routing`): notify has no Trigger, a plain POST has no
CloudEvent type (:data:`NOTIFY_TYPE` only names its inbox rows), and a CloudEvent carrying the
payload is handled whatever its type.
"""

from __future__ import annotations

import hashlib

import flask

from functions.notify.usecase import attach
from shared import bootstrap
from shared.errors import PermanentError
from shared.runtime.envelope import Envelope
from shared.runtime.gate import read_body, readiness
from shared.runtime.handler import cloudevent_function, reject, run_event

CONSUMER = "notify"
SOURCE = "/notify"
#: The inbox type of a plain POST (never emitted: notify has nothing to reply).
NOTIFY_TYPE = "io.codexjudge.run.notify.v1"

_cloudevent = cloudevent_function(CONSUMER, attach, bootstrap.container)


def envelope_for_post(headers: dict[str, str], body: bytes) -> Envelope:
    """The envelope of a plain POST: id from ``Idempotency-Key`` or the body's SHA-256."""
    lowered = {k.lower(): v for k, v in headers.items()}
    key = lowered.get("idempotency-key", "").strip()
    event_id = key or "sha256:" + hashlib.sha256(body).hexdigest()
    return Envelope(
        id=event_id,
        source=SOURCE,
        type=NOTIFY_TYPE,
        datacontenttype=lowered.get("content-type") or "application/json",
        data=body,
    )


def handle(request: flask.Request) -> flask.Response:
    """The HTTP entrypoint (functions-framework ``http`` signature). The runtime's gate
    applies to both paths: readiness on GET/HEAD, 405 on other methods, 413 over
    ``max_body_bytes``, the JSON limits of :mod:`shared.runtime.limits`."""
    if request.method in ("GET", "HEAD"):
        return readiness(CONSUMER)
    headers = dict(request.headers)
    content_type = request.headers.get("Content-Type", "")
    if "ce-specversion" in {k.lower() for k in headers} or content_type.startswith(
        "application/cloudevents+json"
    ):
        return _cloudevent(request)
    deps = bootstrap.container()
    body = b""
    try:
        body = read_body(request, deps.settings.max_body_bytes)
    except PermanentError as exc:
        return reject(deps, CONSUMER, headers, body, exc)
    return run_event(CONSUMER, attach, envelope_for_post(headers, body), deps)
