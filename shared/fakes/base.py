"""What every fake shares: a JSON state behind a lock, a request log, and a server runner.

Every fake is a Flask app with these control routes beside the service's own API:

* ``GET /_fake/state`` → the whole state as JSON; ``PUT /_fake/state`` replaces it (the body is
  merged over the fake's empty defaults, so a partial state is fine);
* ``GET /_fake/requests`` → every API request received, in order, as
  ``{"method", "path", "query", "headers", "json"}`` (``Authorization`` values are masked to
  their scheme, e.g. ``"Bearer ***"``); ``DELETE /_fake/requests`` clears the log.

Control routes are not logged. :func:`serve_fake` serves an app on a loopback port in a
background thread (werkzeug ``make_server(threaded=True)``), for tests and for the
``codex-judge up`` supervisor. Source of the design: DESIGN §7 ("fakes speak the wire protocol").
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import flask
from werkzeug.serving import BaseWSGIServer, make_server

CONTROL_PREFIX = "/_fake/"


@dataclass
class FakeStore:
    """A fake's mutable state and request log; every access holds ``lock``."""

    defaults: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

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


def create_fake_app(
    name: str, defaults: dict[str, Any], initial_state: Mapping[str, Any] | None
) -> tuple[flask.Flask, FakeStore]:
    """A Flask app with the control routes and request logging installed.

    Args:
        name: the app's import name (shows in logs).
        defaults: the empty state; ``initial_state`` is laid over a copy of it.
        initial_state: the state to start with (same format as ``PUT /_fake/state``).

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

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        self.server.shutdown()
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
