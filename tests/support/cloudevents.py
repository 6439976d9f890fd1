"""Posting a binary-mode CloudEvent to a function under test, as the Broker delivers it."""

from __future__ import annotations

import json
from typing import Any

import httpx


def post_event(
    url: str, event_type: str, data: dict[str, Any], event_id: str, *, source: str = "/test"
) -> httpx.Response:
    """POST ``data`` as a binary-mode CloudEvent (JSON) and return the function's answer."""
    return httpx.post(
        url,
        content=json.dumps(data).encode(),
        headers={
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-source": source,
            "ce-type": event_type,
            "content-type": "application/json",
        },
        timeout=30,
    )
