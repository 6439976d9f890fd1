"""A fake Argo CD API server: sync, get and roll back Applications.

State (``GET``/``PUT /_fake/state``)::

    {"applications": {"<name>": <Application object>},
     "behaviour": {"<name>": {"polls_to_sync": 1, "health": "Healthy"}},
     "pending": {"<name>": {"revision": "<sha>", "polls_left": 1}},
     "syncs": [<sync request body>], "rollbacks": [<rollback request body>]}

Routes follow the Argo CD API (``ApplicationService``):

* ``POST /api/v1/applications/{name}/sync`` records the body, marks the Application
  ``OutOfSync``/``Progressing`` with ``operationState.phase: Running`` (and
  ``operationState.operation.sync.revision``) and answers it; while that operation runs, another
  sync is refused as Argo CD refuses it: 400 with grpc code 9 ``FAILED_PRECONDITION``,
  ``another operation is already in progress`` (nothing recorded);
* ``GET /api/v1/applications/{name}`` answers the Application; each GET while a sync is pending
  counts one poll, and after ``polls_to_sync`` polls (default 1) the sync finishes: ``Synced``
  at the requested revision, health ``behaviour.health`` (default ``Healthy``; ``Degraded``
  models a broken rollout), ``operationState.phase: Succeeded`` and a new ``status.history``
  entry;
* ``POST /api/v1/applications/{name}/rollback`` (``{"id"}``) records the body and moves
  ``status.sync.revision`` to that history entry's revision.

An unknown Application is 404 with Argo CD's grpc-gateway body
``{"error", "code": 5, "message": "applications.argoproj.io \\"<name>\\" not found"}``.

Faults (``POST /_fake/faults``, :mod:`shared.local.fakes.base`): an armed status is answered with
the same body shape, ``{"error", "code": <gRPC code>, "message"}`` (502/503 → 14 ``UNAVAILABLE``,
429 → 8 ``RESOURCE_EXHAUSTED``); a faulted sync or rollback changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import flask

from shared.local.fakes.base import FakeStore, create_fake_app, grpc_code, json_answer

DEFAULT_STATE: dict[str, Any] = {
    "applications": {},
    "behaviour": {},
    "pending": {},
    "syncs": [],
    "rollbacks": [],
}


def application(name: str, *, revision: str | None = None) -> dict[str, Any]:
    """A minimal Application object as Argo CD answers it (Synced/Healthy at ``revision``)."""
    history = [{"id": 0, "revision": revision, "deployedAt": _now()}] if revision else []
    return {
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"source": {"targetRevision": "HEAD"}, "destination": {}},
        "status": {
            "sync": {"status": "Synced", "revision": revision},
            "health": {"status": "Healthy"},
            "history": history,
        },
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_found(name: str) -> flask.Response:
    message = f'applications.argoproj.io "{name}" not found'
    return json_answer(404, {"error": message, "code": 5, "message": message})


def _advance(store: FakeStore, name: str, app: dict[str, Any]) -> None:
    """Count one poll of a pending sync; finish it when no polls are left (holds the lock)."""
    pending = store.state["pending"].get(name)
    if pending is None:
        return
    pending["polls_left"] = int(pending.get("polls_left", 1)) - 1
    if pending["polls_left"] > 0:
        return
    behaviour = store.state["behaviour"].get(name) or {}
    status = app.setdefault("status", {})
    history = status.setdefault("history", [])
    history.append({"id": len(history), "revision": pending["revision"], "deployedAt": _now()})
    status["sync"] = {"status": "Synced", "revision": pending["revision"]}
    status["health"] = {"status": behaviour.get("health", "Healthy")}
    status["operationState"] = {
        "phase": "Succeeded",
        "message": "successfully synced (all tasks run)",
        "operation": {"sync": {"revision": pending["revision"]}},
        "syncResult": {"revision": pending["revision"]},
    }
    del store.state["pending"][name]


def fault_body(status: int) -> dict[str, Any]:
    """Argo CD's grpc-gateway error body for an injected HTTP ``status``."""
    message = f"the Argo CD API answered {status} (a fault injected by the fake)"
    return {"error": message, "code": grpc_code(status), "message": message}


def create_app(initial_state: dict[str, Any] | None = None) -> flask.Flask:
    """A fake Argo CD starting from ``initial_state`` (see module docstring)."""
    app, store = create_fake_app("fake_argocd", DEFAULT_STATE, initial_state, fault_body=fault_body)

    @app.get("/api/v1/applications/<name>")
    def get_application(name: str) -> flask.Response:
        with store.lock:
            found = store.state["applications"].get(name)
            if found is None:
                return _not_found(name)
            _advance(store, name, found)
            return json_answer(200, found)

    @app.post("/api/v1/applications/<name>/sync")
    def sync(name: str) -> flask.Response:
        body = flask.request.get_json(silent=True) or {}
        with store.lock:
            found = store.state["applications"].get(name)
            if found is None:
                return _not_found(name)
            if name in store.state["pending"]:
                message = "another operation is already in progress"
                return json_answer(400, {"error": message, "code": 9, "message": message})
            store.state["syncs"].append(body)
            behaviour = store.state["behaviour"].get(name) or {}
            revision = body.get("revision") or found["spec"]["source"].get("targetRevision")
            store.state["pending"][name] = {
                "revision": revision,
                "polls_left": int(behaviour.get("polls_to_sync", 1)),
            }
            status = found.setdefault("status", {})
            status["sync"] = {**(status.get("sync") or {}), "status": "OutOfSync"}
            status["health"] = {"status": "Progressing"}
            status["operationState"] = {
                "phase": "Running",
                "operation": {"sync": {"revision": revision}},
            }
            return json_answer(200, found)

    @app.post("/api/v1/applications/<name>/rollback")
    def rollback(name: str) -> flask.Response:
        body = flask.request.get_json(silent=True) or {}
        with store.lock:
            found = store.state["applications"].get(name)
            if found is None:
                return _not_found(name)
            history = found.get("status", {}).get("history") or []
            entry = next((h for h in history if h.get("id") == body.get("id")), None)
            if entry is None:
                message = f"application {name} does not have deployment with id {body.get('id')}"
                return json_answer(400, {"error": message, "code": 3, "message": message})
            store.state["rollbacks"].append(body)
            found["status"]["sync"] = {"status": "OutOfSync", "revision": entry["revision"]}
            found["status"]["health"] = {"status": "Healthy"}
            return json_answer(200, found)

    return app
