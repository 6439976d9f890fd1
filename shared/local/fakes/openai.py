"""A fake OpenAI-compatible API: ``POST /v1/chat/completions`` and ``POST /v1/embeddings``.

State (``GET``/``PUT /_fake/state``)::

    {"responses": [<chat.completion body> | {"status": 429, "body": {...}, "headers": {...}}],
     "default": <chat.completion body> | null,
     "api_key": null | "<expected bearer key>"}

Each request pops the next queued item: a full body is answered 200, a ``{"status", "body"}``
item is answered with that status, body and headers. When the queue is empty, chat answers
``default``; when that is null it answers 503 ``{"error": {...}}``. Embeddings with an empty
queue answer a deterministic hashing embedding (8 dimensions unless ``dimensions`` is sent), so
the memories pipeline runs offline. Request validation follows the OpenAI API reference
(``model`` and ``messages``/``input`` are required; errors are
``{"error": {"message", "type", "param", "code"}}``).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import flask

from shared.local.fakes.base import FakeStore, create_fake_app, json_answer

DEFAULT_STATE: dict[str, Any] = {"responses": [], "default": None, "api_key": None}


def _error(
    status: int,
    message: str,
    *,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> flask.Response:
    return json_answer(
        status, {"error": {"message": message, "type": kind, "param": param, "code": code}}
    )


def _is_error_item(item: Any) -> bool:
    return isinstance(item, dict) and "status" in item and "body" in item


def _answer_item(item: dict[str, Any]) -> flask.Response:
    if _is_error_item(item):
        return json_answer(int(item["status"]), item["body"], item.get("headers") or {})
    return json_answer(200, item)


def _hash_embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector from SHA-256 of ``text``: equal texts embed equally, offline."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _check_auth(store: FakeStore) -> flask.Response | None:
    with store.lock:
        expected = store.state.get("api_key")
    if expected is None:
        return None
    if flask.request.headers.get("Authorization") != f"Bearer {expected}":
        return _error(401, "Incorrect API key provided.", code="invalid_api_key")
    return None


def _pop(store: FakeStore) -> Any:
    with store.lock:
        queue = store.state.setdefault("responses", [])
        return queue.pop(0) if queue else None


def create_app(initial_state: dict[str, Any] | None = None) -> flask.Flask:
    """A fake OpenAI-compatible endpoint starting from ``initial_state`` (see module docstring)."""
    app, store = create_fake_app("fake_openai", DEFAULT_STATE, initial_state)

    @app.post("/v1/chat/completions")
    def chat_completions() -> flask.Response:
        refused = _check_auth(store)
        if refused is not None:
            return refused
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.")
        if not body.get("model"):
            return _error(400, "you must provide a model parameter", param="model")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(
                400,
                "Missing required parameter: 'messages'.",
                param="messages",
                code="missing_required_parameter",
            )
        item = _pop(store)
        if item is None:
            with store.lock:
                item = store.state.get("default")
        if item is None:
            return _error(
                503, "The fake has no queued response and no default.", kind="server_error"
            )
        return _answer_item(item)

    @app.post("/v1/embeddings")
    def embeddings() -> flask.Response:
        refused = _check_auth(store)
        if refused is not None:
            return refused
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict) or not body.get("model"):
            return _error(400, "you must provide a model parameter", param="model")
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return _error(
                400, "'input' must be a string or a non-empty array of strings", param="input"
            )
        item = _pop(store)
        if item is not None:
            return _answer_item(item)
        dimensions = int(body.get("dimensions") or 8)
        data = [
            {"object": "embedding", "index": i, "embedding": _hash_embedding(str(text), dimensions)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(len(str(text).split()) for text in inputs)
        return json_answer(
            200,
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    return app
