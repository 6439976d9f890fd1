"""The github-webhook use case: store a delivery once, project it, publish it (DESIGN §4, §5).

A delivery is identified by ``X-GitHub-Delivery`` (``github.events`` primary key): a redelivery
stores and projects nothing new. The delivery becomes a CloudEvent of type
``com.github.<event>.<action>`` (``com.github.<event>`` without an action), source
``/github/<owner>/<repo>``, id = the delivery id, subject = the PR number or head SHA, data = the
payload. When ``K_SINK`` is set (Knative SinkBinding → the Broker) the event is POSTed there in
binary mode and ``published_at`` recorded; a failed publish answers 503 so GitHub's redelivery
(or a manual one) publishes it, while a delivery already published is not published again.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.db import Database
from shared.errors import InvalidDataError, MalformedEventError
from shared.events import OutgoingEvent
from shared.projections import project_webhook
from shared.publish import publish_event
from shared.settings import Settings

log = logging.getLogger("codex_judge.github_webhook")

# The request headers worth keeping with a delivery (the signature proves nothing later).
_KEPT_HEADERS = (
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "user-agent",
    "content-type",
)

SQL_STORE = """
INSERT INTO github.events (delivery_id, event, action, repository, payload, headers)
VALUES (:delivery_id, :event, :action, :repository, CAST(:payload AS jsonb),
        CAST(:headers AS jsonb))
ON CONFLICT (delivery_id) DO NOTHING
RETURNING delivery_id
"""
SQL_PUBLISHED_AT = "SELECT published_at FROM github.events WHERE delivery_id = :delivery_id"
SQL_MARK_PUBLISHED = """
UPDATE github.events SET published_at = now()
WHERE delivery_id = :delivery_id AND published_at IS NULL
"""


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: ``X-GitHub-Event``, ``X-GitHub-Delivery``, the parsed payload."""

    event: str
    delivery_id: str
    payload: dict[str, Any]
    headers: dict[str, str]

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) and action else None

    @property
    def repository(self) -> str | None:
        repo = self.payload.get("repository")
        name = repo.get("full_name") if isinstance(repo, dict) else None
        return name if isinstance(name, str) else None


def parse_delivery(headers: Mapping[str, str], body: bytes) -> Delivery:
    """Read the event name, delivery id and JSON payload of a webhook request.

    Raises:
        MalformedEventError: ``X-GitHub-Event`` or ``X-GitHub-Delivery`` is missing, or the
            body is not a JSON object (``field`` names which).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("x-github-event", "x-github-delivery"):
        if not lowered.get(name):
            raise MalformedEventError(f"header {name} is missing", field=name)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEventError(f"webhook body is not JSON: {exc}", field="body") from exc
    if not isinstance(payload, dict):
        raise MalformedEventError("webhook body must be a JSON object", field="body")
    kept = {k: lowered[k] for k in _KEPT_HEADERS if k in lowered}
    return Delivery(lowered["x-github-event"], lowered["x-github-delivery"], payload, kept)


def to_event(delivery: Delivery, subject: str | None) -> OutgoingEvent:
    """The CloudEvent for a delivery (see the module docstring for its attributes)."""
    kind = f"com.github.{delivery.event}"
    if delivery.action:
        kind += f".{delivery.action}"
    source = f"/github/{delivery.repository}" if delivery.repository else "/github"
    return OutgoingEvent(
        type=kind,
        source=source,
        id=delivery.delivery_id,
        data=delivery.payload,
        subject=subject,
        time=datetime.now(UTC).isoformat(),
    )


def store_and_project(db: Database, delivery: Delivery) -> tuple[OutgoingEvent, bool]:
    """Store the delivery once and project it, in one transaction.

    Returns:
        The CloudEvent and whether it was already published.

    Raises:
        InvalidDataError: a GitHub object in the payload fails its model (nothing is stored).
    """
    with db.transaction() as tx:
        inserted = tx.one(
            SQL_STORE,
            delivery_id=delivery.delivery_id,
            event=delivery.event,
            action=delivery.action,
            repository=delivery.repository,
            payload=json.dumps(delivery.payload),
            headers=json.dumps(delivery.headers),
        )
        # Projecting a redelivery again is harmless (projections keep the newest) and yields
        # the same subject for the reply.
        touched = project_webhook(tx, delivery.event, delivery.payload)
        row = tx.one(SQL_PUBLISHED_AT, delivery_id=delivery.delivery_id)
    published = bool(row and row["published_at"] is not None)
    if inserted is None:
        log.info("duplicate delivery", extra={"delivery_id": delivery.delivery_id})
    return to_event(delivery, touched.subject()), published


def publish(db: Database, settings: Settings, event: OutgoingEvent) -> None:
    """POST ``event`` in binary mode to ``K_SINK`` and record ``published_at``.

    Raises:
        UpstreamError: no ``K_SINK``, or the sink did not answer 2xx (the caller answers 503;
            the delivery stays stored and unpublished until a redelivery publishes it).
    """
    publish_event(settings, event, timeout_s=settings.github_timeout_s)
    with db.transaction() as tx:
        tx.run(SQL_MARK_PUBLISHED, delivery_id=event.id)


def froussard_delivery(data: Mapping[str, Any]) -> Delivery:
    """A delivery from Froussard's Kafka envelope (topic ``github.webhooks``).

    Froussard verified ``X-Hub-Signature-256`` when it received the webhook and publishes
    ``{"deliveryId", "event", "action", "repository", "sender", "receivedAt", "payload"}``:
    ``payload`` is GitHub's JSON body, ``deliveryId`` the ``X-GitHub-Delivery`` header (the
    dedupe key: ``github.events`` stores it once), ``event`` the ``X-GitHub-Event`` header.
    The envelope's ``action`` and ``repository`` repeat the payload's; the payload wins.

    Raises:
        InvalidDataError: ``deliveryId``/``event`` is not a non-empty string or ``payload`` is
            not an object (``field`` = ``data.<name>``).
    """
    for name in ("deliveryId", "event"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidDataError(
                f"Froussard envelope {name} must be a non-empty string, got {type(value).__name__}",
                field=f"data.{name}",
            )
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise InvalidDataError(
            f"Froussard envelope payload must be a JSON object, got {type(payload).__name__}",
            field="data.payload",
        )
    headers = {"x-github-event": data["event"], "x-github-delivery": data["deliveryId"]}
    if isinstance(data.get("receivedAt"), str):
        headers["x-froussard-received-at"] = data["receivedAt"]
    return Delivery(data["event"], data["deliveryId"], dict(payload), headers)


def delivery_from_record(
    data: Any, extensions: Mapping[str, str]
) -> tuple[Delivery, bytes | None, str | None]:
    """A delivery carried in a Kafka record (KafkaSource CloudEvent ``data``).

    Three shapes are read: the Froussard envelope ``{"deliveryId", "event", "action",
    "repository", "sender", "receivedAt", "payload"}`` (:func:`froussard_delivery`); an
    envelope ``{"headers": {...}, "body_raw_base64": ...}`` (or
    ``"body"``: the payload object), as webhook relays record it; or the bare payload, with the
    event name and delivery id in the KafkaSource ``kafkaheaderxgithubevent`` /
    ``kafkaheaderxgithubdelivery`` extensions.

    Returns:
        The delivery, the raw body bytes and signature when the envelope carries them.

    Raises:
        InvalidDataError: no shape names the event and delivery (``field`` says which).
    """
    if isinstance(data, dict) and "deliveryId" in data and "payload" in data:
        return froussard_delivery(data), None, None
    if isinstance(data, dict) and isinstance(data.get("headers"), dict):
        headers = {str(k): str(v) for k, v in data["headers"].items()}
        raw: bytes | None = None
        if isinstance(data.get("body_raw_base64"), str):
            try:
                raw = base64.b64decode(data["body_raw_base64"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidDataError(
                    "data.body_raw_base64 is not base64", field="data.body_raw_base64"
                ) from exc
            body = raw
        elif isinstance(data.get("body"), dict):
            body = json.dumps(data["body"]).encode()
        else:
            raise InvalidDataError(
                "envelope has neither body_raw_base64 nor body", field="data.body"
            )
        try:
            delivery = parse_delivery(headers, body)
        except MalformedEventError as exc:
            raise InvalidDataError(exc.message, field=f"data.headers.{exc.field}") from exc
        lowered = {k.lower(): v for k, v in headers.items()}
        return delivery, raw, lowered.get("x-hub-signature-256")
    event = extensions.get("kafkaheaderxgithubevent")
    delivery_id = extensions.get("kafkaheaderxgithubdelivery")
    if not isinstance(data, dict) or not event or not delivery_id:
        raise InvalidDataError(
            "Kafka record is neither a webhook envelope {headers, body_raw_base64} nor a payload "
            "with kafkaheaderxgithubevent/kafkaheaderxgithubdelivery extensions",
            field="data.headers",
        )
    return (
        Delivery(
            event, delivery_id, data, {"x-github-event": event, "x-github-delivery": delivery_id}
        ),
        None,
        None,
    )
