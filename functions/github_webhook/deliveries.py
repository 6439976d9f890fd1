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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from shared.db import Database
from shared.errors import InvalidDataError, MalformedEventError
from shared.github.dispatch import project_webhook
from shared.ports import Broker
from shared.runtime import limits
from shared.runtime.envelope import OutgoingEvent
from shared.settings import Settings

log = logging.getLogger("codex_judge.github_webhook")

# GitHub's event and action names ("pull_request_review", "ready_for_review") and repository
# full names (owner: letters, digits and '-'; name: also '_' and '.'): all ASCII.
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
_FULL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9_.-]{1,100}")

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

    Both content types GitHub offers are read: ``application/json`` (the body is the payload)
    and ``application/x-www-form-urlencoded`` (the body is ``payload=<URL-encoded JSON>``).
    The signature is checked by the caller over the raw body, before this. The payload passes
    :mod:`shared.runtime.limits` (NUL in any string becomes U+FFFD, so such a delivery is stored).

    Raises:
        MalformedEventError: ``X-GitHub-Event`` or ``X-GitHub-Delivery`` is missing, or the
            body is not a JSON object (``field`` names which).
        InvalidDataError: the payload exceeds an input limit, or the event name, action or
            repository is not what GitHub sends (``field`` names the member).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("x-github-event", "x-github-delivery"):
        if not lowered.get(name):
            raise MalformedEventError(f"header {name} is missing", field=name)
    _check_event(lowered["x-github-event"], "x-github-event")
    content_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        body = _form_payload(body)
    payload = limits.loads(body, field="body", malformed=MalformedEventError)
    if not isinstance(payload, dict):
        raise MalformedEventError("webhook body must be a JSON object", field="body")
    _check_names(payload, "body")
    kept = {k: lowered[k] for k in _KEPT_HEADERS if k in lowered}
    return Delivery(lowered["x-github-event"], lowered["x-github-delivery"], payload, kept)


def _form_payload(body: bytes) -> bytes:
    """The JSON of a form-encoded delivery: its single ``payload`` field."""
    try:
        fields = parse_qs(body, keep_blank_values=True, strict_parsing=True, max_num_fields=16)
    except ValueError as exc:
        raise MalformedEventError(f"form-encoded body is unreadable: {exc}", field="body") from exc
    values = fields.get(b"payload")
    if not values or len(values) != 1:
        raise MalformedEventError(
            "form-encoded body must carry exactly one payload=<JSON> field", field="body.payload"
        )
    return values[0]


def _check_event(name: str, field: str) -> None:
    if not _EVENT_NAME.fullmatch(name):
        raise InvalidDataError(
            f"{field} must be a GitHub event name (lowercase ASCII letters, digits and _)",
            field=field,
        )


def _check_names(payload: dict[str, Any], root: str) -> None:
    """GitHub's action and repository names are ASCII (they become CloudEvent attributes)."""
    action = payload.get("action")
    if action is not None and not isinstance(action, str):
        raise InvalidDataError(f"{root}.action must be a string", field=f"{root}.action")
    if action:
        _check_event(action, f"{root}.action")
    repo = payload.get("repository")
    if repo is None:
        return
    if not isinstance(repo, dict):
        raise InvalidDataError(
            f"{root}.repository must be an object, got {type(repo).__name__}",
            field=f"{root}.repository",
        )
    name = repo.get("full_name")
    if name is not None and not (isinstance(name, str) and _FULL_NAME.fullmatch(name)):
        raise InvalidDataError(
            f"{root}.repository.full_name must be owner/name in GitHub's ASCII letters, digits, "
            "'-', '_' and '.'",
            field=f"{root}.repository.full_name",
        )


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


def publish(db: Database, broker: Broker, settings: Settings, event: OutgoingEvent) -> None:
    """Publish ``event`` to the Broker (``K_SINK``, within ``github_timeout_s``) and record
    ``published_at``.

    Raises:
        UpstreamError: no ``K_SINK``, or the sink did not answer 2xx (the caller answers 503;
            the delivery stays stored and unpublished until a redelivery publishes it).
    """
    broker.publish(event, timeout_s=settings.github_timeout_s)
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
    _check_event(data["event"], "data.event")
    _check_names(payload, "data.payload")
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
    _check_event(event, "kafkaheaderxgithubevent")
    _check_names(data, "data")
    return (
        Delivery(
            event, delivery_id, data, {"x-github-event": event, "x-github-delivery": delivery_id}
        ),
        None,
        None,
    )
