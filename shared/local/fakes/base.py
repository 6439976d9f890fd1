"""What every fake shares: a JSON state behind a lock, a request log, and a server runner.

Every fake is a Flask app with these control routes beside the service's own API:

* ``GET /_fake/state`` → the whole state as JSON; ``PUT /_fake/state`` replaces it (the body is
  merged over the fake's empty defaults, so a partial state is fine);
* ``GET /_fake/requests`` → every API request received, in order, as
  ``{"method", "path", "query", "headers", "json"}`` (``Authorization`` values are masked to
  their scheme, e.g. ``"Bearer ***"``); ``DELETE /_fake/requests`` clears the log.

* ``POST /_fake/faults`` arms faults (one object or a list), ``GET /_fake/faults`` answers
  ``{"faults": [<armed>], "injected": [<answered>], "held": [<held>]}``, ``DELETE
  /_fake/faults`` disarms them all. A fault is ``{"status": 502, "path": "<substring of the
  path>", "method": "POST", "times": 1, "headers": {...}, "body": {...}}``: the next
  ``times`` API requests whose path contains ``path`` (default: any) and whose method is
  ``method`` (default: any) are answered
  ``status`` with those headers and body instead of being served (the request is still in the
  request log). Without ``body``, the answer is the upstream's own error shape for that status
  (each fake passes its ``fault_body``). This is the one fault mechanism every fake shares:
  502/503 outages, 429 with ``Retry-After``, GitHub's secondary rate limit (403 with
  ``retry-after``) are all faults with the right status, headers and body (:func:`fault`).
* A fault with ``"hold_s": <seconds>`` and no ``status`` (:func:`hold`) lets the matching
  request be served — its write is applied — and then holds the answer that many seconds
  before sending it: the window in which the caller has changed the upstream but not yet heard
  so. Each held answer is listed in ``GET /_fake/faults`` ``"held"`` as ``{"seq", "method",
  "path", "status", "hold_s", "json"}`` (``json``: the request's JSON body, or null) as soon as
  the write is applied (before the wait), so a test can crash the caller or stop its database
  inside that window (issue 10's soak).

Control routes are not logged. :func:`serve_fake` serves an app on a loopback port in a
background thread (werkzeug ``make_server(threaded=True)``), for tests and for the
``codex-judge up`` supervisor. Source of the design: DESIGN §7 ("fakes speak the wire protocol").
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import flask
from werkzeug.serving import BaseWSGIServer, make_server

CONTROL_PREFIX = "/_fake/"
MAX_HOLD_S = 60
"""The longest a ``hold_s`` fault may hold an answer, seconds."""

log = logging.getLogger("codex_judge.fakes")


@dataclass
class FakeStore:
    """A fake's mutable state, request log and armed faults; every access holds ``lock``."""

    defaults: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Armed faults (module docstring), first match wins; ``injected`` logs the ones answered
    #: as ``{"status", "method", "path"}``.
    faults: list[dict[str, Any]] = field(default_factory=list)
    injected: list[dict[str, Any]] = field(default_factory=list)
    #: Answers held after their write was applied (``hold_s`` faults), in order.
    held: list[dict[str, Any]] = field(default_factory=list)

    def replace(self, new_state: Mapping[str, Any] | None) -> None:
        """Replace the state with ``new_state`` laid over a fresh copy of the defaults."""
        merged = copy.deepcopy(self.defaults)
        merged.update(copy.deepcopy(dict(new_state or {})))
        with self.lock:
            self.state = merged


def _masked_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        if name.lower() == "authorization":
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} ***".strip()
        out[name] = value
    return out


def fault(
    status: int,
    *,
    path: str = "",
    method: str = "",
    times: int = 1,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    """A fault to arm with ``POST /_fake/faults`` (module docstring).

    Args:
        status: the HTTP status to answer (502, 503, 429, 403...).
        path: answer only requests whose path contains this; empty matches every path.
        method: answer only this method (``POST``); empty matches every method.
        times: how many requests to answer before the fault disarms itself (≥ 1).
        headers: extra answer headers, e.g. ``{"Retry-After": "1"}``.
        body: the JSON body; None for the fake's own error shape for ``status``.
    """
    armed: dict[str, Any] = {"status": status, "path": path, "method": method, "times": times}
    if headers:
        armed["headers"] = dict(headers)
    if body is not None:
        armed["body"] = body
    return armed


def hold(hold_s: float, *, path: str = "", method: str = "", times: int = 1) -> dict[str, Any]:
    """A fault that serves the request (its write is applied) and holds the answer ``hold_s``
    seconds before sending it (module docstring); ``path``, ``method`` and ``times`` match as
    in :func:`fault`."""
    return {"hold_s": hold_s, "path": path, "method": method, "times": times}


#: The gRPC status code grpc-gateway maps back to each HTTP status (grpc-gateway's
#: ``HTTPStatusFromCode``), for the Argo and Argo CD fakes' error bodies.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 499: 1, 500: 13, 501: 12}
GRPC_UNAVAILABLE = 14
"""502, 503 and 504 (a gateway or the server is down) are ``UNAVAILABLE``."""


def grpc_code(status: int) -> int:
    """The gRPC code grpc-gateway answers with HTTP ``status`` (2 ``UNKNOWN`` if none)."""
    if status in (502, 503, 504):
        return GRPC_UNAVAILABLE
    return GRPC_CODES.get(status, 2)


def _generic_fault_body(status: int) -> dict[str, Any]:
    return {"message": f"{status} (a fault injected by the fake)"}


def _take_fault(store: FakeStore, method: str, path: str) -> dict[str, Any] | None:
    """The first armed fault matching the request, counted down (holds the lock)."""
    for index, armed in enumerate(store.faults):
        if str(armed.get("path") or "") not in path:
            continue
        if armed.get("method") and str(armed["method"]).upper() != method:
            continue
        armed["times"] = int(armed.get("times") or 1) - 1
        if armed["times"] <= 0:
            store.faults.pop(index)
        if "status" in armed:  # a hold is logged in ``held`` once its write is applied
            store.injected.append({"status": int(armed["status"]), "method": method, "path": path})
        return armed
    return None


def _validated_faults(body: Any) -> list[dict[str, Any]] | str:
    """The faults of a ``POST /_fake/faults`` body, or what is wrong with it."""
    items = body if isinstance(body, list) else [body]
    for item in items:
        if not isinstance(item, dict):
            return "each fault must be a JSON object"
        if "hold_s" in item and "status" not in item:
            hold_s = item["hold_s"]
            if isinstance(hold_s, bool) or not isinstance(hold_s, int | float):
                return f"fault hold_s must be a number of seconds, got {hold_s!r}"
            if not 0 < hold_s <= MAX_HOLD_S:
                return f"fault hold_s must be within 0..{MAX_HOLD_S} seconds, got {hold_s!r}"
        else:
            status = item.get("status")
            if not isinstance(status, int) or not 100 <= status <= 599:
                return (
                    f"fault status must be an HTTP status code (an integer 100-599), got {status!r}"
                )
        times = item.get("times", 1)
        if not isinstance(times, int) or times < 1:
            return f"fault times must be a positive integer, got {times!r}"
    return [dict(item) for item in items]


def create_fake_app(
    name: str,
    defaults: dict[str, Any],
    initial_state: Mapping[str, Any] | None,
    *,
    fault_body: Callable[[int], Any] = _generic_fault_body,
) -> tuple[flask.Flask, FakeStore]:
    """A Flask app with the control routes, request logging and fault injection installed.

    Args:
        name: the app's import name (shows in logs).
        defaults: the empty state; ``initial_state`` is laid over a copy of it.
        initial_state: the state to start with (same format as ``PUT /_fake/state``).
        fault_body: the upstream's error body for an injected status, used when a fault
            carries no ``body`` (e.g. Argo's grpc-gateway ``{"code", "message"}``).

    Returns:
        The app and its store (also at ``app.extensions["fake_store"]``).
    """
    app = flask.Flask(name)
    store = FakeStore(defaults=defaults)
    store.replace(initial_state)
    app.extensions["fake_store"] = store

    @app.before_request
    def _log_request() -> None:
        if flask.request.path.startswith(CONTROL_PREFIX):
            return
        body = flask.request.get_json(silent=True)
        with store.lock:
            store.requests.append(
                {
                    "method": flask.request.method,
                    "path": flask.request.path,
                    "query": flask.request.args.to_dict(flat=True),
                    "headers": _masked_headers(flask.request.headers.items()),
                    "json": body,
                }
            )

    @app.before_request
    def _inject_fault() -> flask.Response | None:
        if flask.request.path.startswith(CONTROL_PREFIX):
            return None
        with store.lock:
            armed = _take_fault(store, flask.request.method, flask.request.path)
        if armed is None:
            return None
        if "status" not in armed:  # a hold: serve it, then hold the answer (_hold_answer)
            flask.g.fake_hold_s = float(armed["hold_s"])
            return None
        status = int(armed["status"])
        body = armed["body"] if "body" in armed else fault_body(status)
        return json_answer(status, body, armed.get("headers"))

    @app.after_request
    def _hold_answer(response: flask.Response) -> flask.Response:
        hold_s = flask.g.pop("fake_hold_s", None)
        if hold_s is None:
            return response
        with store.lock:
            store.held.append(
                {
                    "seq": len(store.held),
                    "method": flask.request.method,
                    "path": flask.request.path,
                    "status": response.status_code,
                    "hold_s": hold_s,
                    "json": flask.request.get_json(silent=True),
                }
            )
        time.sleep(hold_s)
        return response

    def _faults_document() -> dict[str, Any]:
        return {"faults": store.faults, "injected": store.injected, "held": store.held}

    @app.get("/_fake/faults")
    def _get_faults() -> flask.Response:
        with store.lock:
            return json_answer(200, _faults_document())

    @app.post("/_fake/faults")
    def _arm_faults() -> flask.Response:
        faults = _validated_faults(flask.request.get_json(silent=True))
        if isinstance(faults, str):
            return json_answer(400, {"error": faults})
        with store.lock:
            store.faults.extend(faults)
            return json_answer(200, _faults_document())

    @app.delete("/_fake/faults")
    def _disarm_faults() -> flask.Response:
        with store.lock:
            store.faults.clear()
        return flask.Response(b"", status=204)

    @app.get("/_fake/state")
    def _get_state() -> flask.Response:
        with store.lock:
            return json_answer(200, store.state)

    @app.put("/_fake/state")
    def _put_state() -> flask.Response:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            return json_answer(400, {"error": "the body must be a JSON object (the whole state)"})
        store.replace(body)
        with store.lock:
            return json_answer(200, store.state)

    @app.get("/_fake/requests")
    def _get_requests() -> flask.Response:
        with store.lock:
            return json_answer(200, {"requests": list(store.requests)})

    @app.delete("/_fake/requests")
    def _clear_requests() -> flask.Response:
        with store.lock:
            store.requests.clear()
        return flask.Response(b"", status=204)

    return app, store


def fake_store(app: flask.Flask) -> FakeStore:
    """The :class:`FakeStore` of an app built by :func:`create_fake_app` (in-process access)."""
    store = app.extensions["fake_store"]
    assert isinstance(store, FakeStore)
    return store


def json_answer(
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json; charset=utf-8",
) -> flask.Response:
    """A JSON response with ``status`` and extra ``headers``."""
    return flask.Response(
        json.dumps(body), status=status, headers=dict(headers or {}), content_type=content_type
    )


@dataclass
class ServedFake:
    """A fake served on ``url`` (``http://127.0.0.1:<port>``) until :meth:`stop`."""

    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and close the socket; safe to call twice.

        ``shutdown()`` waits for the serving loop without a bound; it runs in a helper thread
        joined for at most ``timeout_s`` seconds. A loop that does not stop in time is stuck
        (blocked on its socket): the socket is then left open and a warning logged, since
        closing it under the blocked thread would hand its descriptor number to the next
        socket the process opens.
        """
        stopper = threading.Thread(target=self.server.shutdown, name="fake-stop", daemon=True)
        stopper.start()
        stopper.join(timeout_s)
        if stopper.is_alive():
            log.warning(
                "fake server %s did not stop within %s s; its socket stays open",
                self.url,
                timeout_s,
            )
            return
        self.server.server_close()


def serve_fake(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0) -> ServedFake:
    """Serve ``app`` on ``host:port`` (0 picks a free port) in a daemon thread.

    Returns:
        The running server; its ``url`` has no trailing slash.
    """
    server = make_server(host, port, app, threaded=True)
    # A short poll interval makes stop() quick (shutdown waits for the next poll).
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"fake:{server.server_port}",
        daemon=True,
    )
    thread.start()
    return ServedFake(url=f"http://{host}:{server.server_port}", server=server, thread=thread)
