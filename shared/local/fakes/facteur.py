"""A fake Facteur: ``POST /codex/tasks`` decodes the protobuf ``CodexTask`` and records it.

State (``GET``/``PUT /_fake/state``)::

    {"tasks": [<CodexTask as JSON, protobuf field names>], "fail_next": int,
     "fail_status": int}

Wire behaviour: the body must be ``application/x-protobuf`` (else 415) and decode as a
``CodexTask`` with a ``delivery_id`` (else 400 ``{"error": ...}``). A new task is answered 202
``{"status": "accepted", "delivery_id": ...}``; a repeated ``delivery_id`` is answered 200
``{"status": "duplicate", ...}`` and not recorded twice (Facteur dedupes on it). While
``fail_next`` > 0 each request is answered ``fail_status`` (default 503) and not recorded.
"""

from __future__ import annotations

from typing import Any

import flask
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError

from shared.facteur.codex_task_pb2 import CodexTask
from shared.local.fakes.base import create_fake_app, json_answer

DEFAULT_STATE: dict[str, Any] = {"tasks": [], "fail_next": 0, "fail_status": 503}
CONTENT_TYPE = "application/x-protobuf"


def decode_task(body: bytes) -> dict[str, Any]:
    """A serialized ``CodexTask`` as JSON (protobuf field names, enums by name).

    Raises:
        DecodeError: ``body`` is not a ``CodexTask``.
    """
    task = CodexTask()
    task.ParseFromString(body)
    return MessageToDict(task, preserving_proto_field_name=True)


def create_app(initial_state: dict[str, Any] | None = None) -> flask.Flask:
    """A fake Facteur starting from ``initial_state`` (see module docstring)."""
    app, store = create_fake_app("fake_facteur", DEFAULT_STATE, initial_state)

    @app.post("/codex/tasks")
    def submit_task() -> flask.Response:
        with store.lock:
            if int(store.state.get("fail_next") or 0) > 0:
                store.state["fail_next"] = int(store.state["fail_next"]) - 1
                status = int(store.state.get("fail_status") or 503)
                return json_answer(status, {"error": "facteur is unavailable (fake)"})
        content_type = (flask.request.content_type or "").split(";")[0].strip().lower()
        if content_type != CONTENT_TYPE:
            return json_answer(415, {"error": f"content type must be {CONTENT_TYPE}"})
        try:
            task = decode_task(flask.request.get_data())
        except DecodeError as exc:
            return json_answer(400, {"error": f"body is not a CodexTask: {exc}"})
        delivery_id = task.get("delivery_id")
        if not delivery_id:
            return json_answer(400, {"error": "delivery_id is required"})
        with store.lock:
            tasks = store.state.setdefault("tasks", [])
            if any(t.get("delivery_id") == delivery_id for t in tasks):
                return json_answer(200, {"status": "duplicate", "delivery_id": delivery_id})
            tasks.append(task)
        return json_answer(202, {"status": "accepted", "delivery_id": delivery_id})

    return app
