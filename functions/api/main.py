"""api: the operators' window (issue 14; DESIGN §4 "api"). An HTTP Service, not an event
consumer: no Trigger delivers to it. It answers

* the JSON api under ``/api/`` (runs, one run with its evidence and timeline, issues, dead
  letters, and the operator actions), documented at ``/openapi.json`` (OpenAPI 3.1 generated
  from its pydantic models) — :mod:`functions.api.routes`;
* the web UI under ``/ui/`` (server-rendered Jinja2 pages, a login form opening a session
  cookie) — :mod:`functions.api.ui`, the agents channel :mod:`functions.api.agents_ui`;
* ``/healthz`` (the readiness probe) and ``/openapi.json`` without a token; everything else
  needs a bearer token or a session (:mod:`functions.api.auth`).

It publishes to the Broker (``K_SINK``, its SinkBinding) what the operator actions decide: the
``judge.decided`` of an approval or a rerun, and replayed dead letters.

Served like every function (``codex-judge serve`` with ``FUNCTION_SOURCE``): functions-framework
hands every path to :func:`handle`, which passes the request on to the api's own Flask
application, built once per process.
"""

from __future__ import annotations

import threading
from typing import cast

import flask

from functions.api import agents, agents_ui, routes, ui
from functions.api.app import SECURITY_HEADERS, error_answer, json_answer
from shared.errors import CodexJudgeError


def create_app() -> flask.Flask:
    """The Flask application (built once per process by ``main``)."""
    app = flask.Flask(__name__, static_folder=None)
    app.url_map.strict_slashes = False
    routes.register(app)
    ui.register(app)
    app.register_blueprint(agents_ui.bp)

    @app.after_request
    def _headers(response: flask.Response) -> flask.Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(404)
    def _not_found(_: Exception) -> flask.Response:
        return json_answer(404, {"error": "NotFound", "message": "no such path"})

    @app.errorhandler(405)
    def _method(_: Exception) -> flask.Response:
        return json_answer(405, {"error": "MethodNotAllowed", "message": "method not allowed"})

    @app.errorhandler(CodexJudgeError)
    def _project_error(exc: CodexJudgeError) -> flask.Response:
        return error_answer(exc)

    return app


_lock = threading.Lock()
_app: flask.Flask | None = None


def application() -> flask.Flask:
    """The api's Flask application (built on first use)."""
    global _app
    with _lock:
        if _app is None:
            _app = create_app()
        return _app


def handle(request: flask.Request) -> flask.Response:
    """The HTTP entrypoint (functions-framework ``http`` signature): every path and method goes
    to :func:`application`, which routes it."""
    if request.path == agents.PATH:  # a stream stays in this request (functions.api.agents)
        return agents.events(request)
    answer = flask.Response.from_app(application().wsgi_app, request.environ)
    return cast(flask.Response, answer)
