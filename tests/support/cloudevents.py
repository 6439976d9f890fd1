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


def post_timers_due(url: str, owner: str, tick_id: str, *, due: int = 1) -> httpx.Response:
    """POST the scheduler's ``io.codexjudge.timers.due.v1`` waking ``owner`` (what a PingSource
    tick ``tick_id`` becomes for a timer owner), built by the scheduler itself and sent as the
    Broker delivers it: binary mode, id ``<tick id>:<owner>``, extension ``timerowner``."""
    from functions.scheduler.usecase import wake_up
    from shared.models.events import PING_EVENT, TimersDue
    from shared.runtime.envelope import Envelope, to_binary_http

    tick = Envelope(
        id=tick_id, source="/apis/v1/namespaces/codex-judge/pingsources/tick", type=PING_EVENT
    )
    headers, body = to_binary_http(wake_up(tick, TimersDue(owner=owner, due=due), "/codex-judge"))
    return httpx.post(url, content=body, headers=headers, timeout=30)
