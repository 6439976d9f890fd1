"""A fake Discord webhook: ``POST /api/webhooks/{id}/{token}`` ("Execute Webhook").

State (``GET``/``PUT /_fake/state``)::

    {"messages": [<message object>], "rate_limit_next": int, "retry_after": float}

Wire behaviour follows Discord's API reference ("Execute Webhook", "Rate Limits", "JSON Error
Codes"): with ``?wait=true`` the answer is 200 with the message object
``{id, type, channel_id, content, webhook_id, author, timestamp, ...}``, otherwise 204. While
``rate_limit_next`` > 0 each request is answered 429 with
``{"message": "You are being rate limited.", "retry_after": <float seconds>, "global": false}``
and the ``Retry-After`` / ``X-RateLimit-*`` headers. Content over 2000 characters is answered
400 ``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}``; an empty message 400
with code 50006. Message ids are snowflake-like increasing strings.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import flask

from shared.local.fakes.base import create_fake_app, json_answer

MAX_CONTENT = 2000
DEFAULT_STATE: dict[str, Any] = {"messages": [], "rate_limit_next": 0, "retry_after": 1.0}
_FIRST_ID = 1_300_000_000_000_000_000
CHANNEL_ID = "1100000000000000001"


def create_app(initial_state: dict[str, Any] | None = None) -> flask.Flask:
    """A fake Discord webhook endpoint starting from ``initial_state`` (see module docstring)."""
    app, store = create_fake_app("fake_discord", DEFAULT_STATE, initial_state)

    @app.post("/api/v10/channels/<channel_id>/messages")
    def create_message(channel_id: str) -> flask.Response:
        """Bot-token mode ("Create Message"): needs ``Authorization: Bot <token>``."""
        if not (flask.request.headers.get("Authorization") or "").startswith("Bot "):
            return json_answer(401, {"message": "401: Unauthorized", "code": 0})
        body = flask.request.get_json(silent=True)
        nonce = body.get("nonce") if isinstance(body, dict) and body.get("enforce_nonce") else None
        if nonce is not None:
            with store.lock:  # "enforce_nonce": the message already created for it, once
                made = store.state.setdefault("nonces", {}).get(str(nonce))
            if made is not None:
                return json_answer(200, made)
        answer = execute_webhook(f"bot-{channel_id}", "", wait=True)
        if nonce is not None and answer.status_code == 200:
            with store.lock:
                store.state["nonces"][str(nonce)] = answer.get_json()
        return answer

    @app.post("/api/webhooks/<webhook_id>/<token>")
    def execute_webhook(webhook_id: str, token: str, wait: bool = False) -> flask.Response:
        with store.lock:
            if int(store.state.get("rate_limit_next") or 0) > 0:
                store.state["rate_limit_next"] = int(store.state["rate_limit_next"]) - 1
                retry_after = float(store.state.get("retry_after") or 1.0)
                return json_answer(
                    429,
                    {
                        "message": "You are being rate limited.",
                        "retry_after": retry_after,
                        "global": False,
                    },
                    {
                        "Retry-After": str(math.ceil(retry_after)),
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                        "X-RateLimit-Bucket": f"webhook-{webhook_id}",
                        "X-RateLimit-Scope": "shared",
                    },
                )
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            return json_answer(
                400, {"code": 50109, "message": "The request body contains invalid JSON."}
            )
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            return _invalid_form("content", "BASE_TYPE_STRING", "Must be a string.")
        if content is not None and len(content) > MAX_CONTENT:
            return _invalid_form(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
            )
        if not content and not body.get("embeds"):
            return json_answer(400, {"code": 50006, "message": "Cannot send an empty message"})
        with store.lock:
            messages = store.state.setdefault("messages", [])
            message = {
                "id": str(_FIRST_ID + len(messages)),
                "type": 0,
                "channel_id": CHANNEL_ID,
                "content": content or "",
                "embeds": body.get("embeds") or [],
                "mentions": [],
                "allowed_mentions": body.get("allowed_mentions"),
                "webhook_id": webhook_id,
                "author": {
                    "id": webhook_id,
                    "username": body.get("username") or "codex-judge",
                    "bot": True,
                },
                "timestamp": datetime.now(UTC).isoformat(),
            }
            messages.append(message)
        if wait or flask.request.args.get("wait", "").lower() == "true":
            return json_answer(200, message)
        return flask.Response(b"", status=204)

    return app


def _invalid_form(field: str, code: str, message: str) -> flask.Response:
    return json_answer(
        400,
        {
            "code": 50035,
            "message": "Invalid Form Body",
            "errors": {field: {"_errors": [{"code": code, "message": message}]}},
        },
    )
