"""``codex-judge replay``: send recorded events to a running mesh, each the way it really arrives.

A file is one of (recognised by its shape):

* a **Kafka record**: ``{"kafka": {"topic", "key"?, "offset"?}, "value": <JSON>}`` — handed to the
  local broker's KafkaSource endpoint, which wraps it exactly as KafkaSource does;
* a **GitHub webhook delivery** as recorded with its headers:
  ``{"headers": {...}, "body_raw_base64": "..."}`` — POSTed to github-webhook with those headers
  and the exact body bytes (so the recorded ``X-Hub-Signature-256`` still verifies);
* a **notify payload**: ``{"notify": {...}}`` — POSTed to notify as the Codex wrapper does;
* a **structured CloudEvent** (has ``specversion``) — POSTed to the Broker ingress.

Each sent item yields one line ``OK <kind> <file> → <status>`` or ``FAILED …``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

_WEBHOOK_HEADERS = ("content-type", "user-agent")


def broker_base(broker_url: str) -> str:
    """``http://host:port`` of a broker ingress URL."""
    parts = urlsplit(broker_url)
    return f"{parts.scheme}://{parts.netloc}"


def send(doc: dict[str, Any], urls: dict[str, Any], client: httpx.Client) -> tuple[str, int]:
    """Send one recorded item; returns ``(kind, HTTP status)``.

    Raises:
        ValueError: the document has none of the recognised shapes.
    """
    if "kafka" in doc and "value" in doc:
        meta = doc["kafka"]
        headers = {"Content-Type": "application/octet-stream"}
        if meta.get("key") is not None:
            headers["X-Kafka-Key"] = str(meta["key"])
        if meta.get("offset") is not None:
            headers["X-Kafka-Offset"] = str(meta["offset"])
        value = doc["value"]
        body = value.encode() if isinstance(value, str) else json.dumps(value).encode()
        resp = client.post(
            f"{broker_base(urls['broker'])}/_mesh/kafka/{meta['topic']}",
            content=body,
            headers=headers,
        )
        return "kafka", resp.status_code
    if "body_raw_base64" in doc:
        headers = {
            k: v
            for k, v in doc.get("headers", {}).items()
            if k.lower().startswith(("x-github-", "x-hub-")) or k.lower() in _WEBHOOK_HEADERS
        }
        resp = client.post(
            urls["functions"]["github-webhook"],
            headers=headers,
            content=base64.b64decode(doc["body_raw_base64"]),
        )
        return "webhook", resp.status_code
    if "notify" in doc:
        resp = client.post(urls["functions"]["notify"], json=doc["notify"])
        return "notify", resp.status_code
    if "specversion" in doc:
        resp = client.post(
            urls["broker"],
            content=json.dumps(doc).encode(),
            headers={"Content-Type": "application/cloudevents+json"},
        )
        return "cloudevent", resp.status_code
    raise ValueError("not a Kafka record, webhook delivery, notify payload or CloudEvent")


def replay_file(path: Path, urls: dict[str, Any]) -> Iterator[str]:
    """Send every item of ``path`` (a JSON object, a JSON list, or JSON lines)."""
    text = path.read_text()
    try:
        parsed = json.loads(text)
        docs = parsed if isinstance(parsed, list) else [parsed]
    except json.JSONDecodeError:
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    with httpx.Client(timeout=30) as client:
        for doc in docs:
            try:
                kind, status = send(doc, urls, client)
            except (ValueError, KeyError, httpx.HTTPError) as exc:
                yield f"FAILED {path}: {exc}"
                continue
            mark = "OK" if status < 400 else "FAILED"
            yield f"{mark} {kind} {path} → {status}"
