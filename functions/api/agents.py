"""``GET /api/agents/events``: the agent messages of issue 15 as Server-Sent Events
(:mod:`shared.agents.sse`: the history after ``Last-Event-ID``, then live rows woken by NOTIFY),
behind a token of either scope (or the web UI's session cookie: a browser's ``EventSource``
cannot send a token), and its entry in the OpenAPI document (a stream has no pydantic
model, so the entry is written here).

A stream is answered in functions-framework's own request (``main.handle`` calls
:func:`events` directly), not through the api's inner application: the generator then runs in
the request context it was made in until the client goes away or ``agents_sse_max_s`` passes.
"""

from __future__ import annotations

import threading
from typing import Any

import flask

from functions.api.app import SECURITY_HEADERS, error_answer, refused, ring, sessions
from functions.api.auth import SESSION_COOKIE, bearer
from shared import bootstrap
from shared.agents import sse
from shared.errors import CodexJudgeError

PATH = "/api/agents/events"
#: Streams one api process keeps open at once: each holds a thread (the api Service runs
#: WORKERS 2 x THREADS 4) and a connection of the process's pool (CODEX_JUDGE_DB_POOL_SIZE 3),
#: so one per process leaves the others to the pages; more streams → 503 with Retry-After.
MAX_STREAMS = 1
_lock = threading.Lock()
_streams: list[sse.Streams] = []


def _bound(deps: Any) -> sse.Streams:
    with _lock:
        if not _streams or _streams[0].db is not deps.db:
            _streams[:] = [
                sse.Streams(
                    deps.db,
                    max_streams=MAX_STREAMS,
                    max_s=deps.settings.agents_sse_max_s,
                    keepalive_s=deps.settings.agents_sse_keepalive_s,
                )
            ]
        return _streams[0]


def events(request: flask.Request) -> flask.Response:
    """The stream for ``request`` (GET only); 401 without a token, 400 naming a bad parameter,
    503 with ``Retry-After`` when :data:`MAX_STREAMS` are open."""
    deps = bootstrap.container()
    if request.method != "GET":
        answer = error_answer(CodexJudgeError("method not allowed"))
        answer.status_code = 405
        return answer
    tokens = ring(deps)
    principal = tokens.verify(bearer(request.headers.get("Authorization")))
    if principal is None:  # the web UI's EventSource sends its session cookie, not a token
        session = sessions(deps).read(request.cookies.get(SESSION_COOKIE))
        principal = tokens.by_digest(session.digest) if session is not None else None
    if principal is None:
        return refused(deps, request)
    try:
        answer = sse.response(_bound(deps), request)
    except CodexJudgeError as exc:
        return error_answer(exc)
    for name, value in SECURITY_HEADERS.items():
        answer.headers.setdefault(name, value)
    return answer  # type: ignore[no-any-return]


def _error_ref() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


OPENAPI_PATH: dict[str, Any] = {
    "get": {
        "operationId": "agentEvents",
        "summary": "Agent messages as Server-Sent Events, resumable by Last-Event-ID",
        "security": [{"bearer": []}],
        "x-scope": "read",
        "parameters": [
            {"name": "run", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {"name": "workflow_uid", "in": "query", "schema": {"type": "string", "maxLength": 128}},
            {"name": "channel", "in": "query", "schema": {"type": "string", "enum": ["general"]}},
            {"name": "last_event_id", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer", "minimum": 0}},
        ],
        "responses": {
            "200": {
                "description": "the event stream (id = row id, event agent-message)",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "400": {
                "description": "not exactly one selector, or a bad resume id",
                "content": _error_ref(),
            },
            "401": {"description": "missing or wrong token (no detail)"},
            "429": {
                "description": "too many wrong tokens from this address; retry after Retry-After"
            },
            "503": {"description": "too many streams open; retry after Retry-After"},
        },
    }
}
