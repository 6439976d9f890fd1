"""The floor run-complete is measured against (issue 12): a functions-framework ``http`` handler
that does one prepared Postgres transaction over a kept connection and answers 202.

One pg8000 connection per worker process, opened on the first request and kept; the statement
(an insert of the event's id, as an inbox claim does) is prepared once; each request is
``BEGIN``, one Bind/Execute, ``COMMIT``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import flask
import pg8000.native

from shared.db.connect import open_connection, parse_url

SQL_CREATE = """
CREATE TABLE IF NOT EXISTS public.bench_floor (
    event_id text PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now())
"""
SQL_CLAIM = "INSERT INTO public.bench_floor (event_id) VALUES (:id) ON CONFLICT DO NOTHING"

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _prepared() -> tuple[pg8000.native.Connection, Any]:
    with _lock:
        if "statement" not in _state:
            spec = parse_url(os.environ["DATABASE_URL"])
            con = open_connection(spec, spec.context(), timeout=30)
            con.run(SQL_CREATE)
            _state["con"], _state["statement"] = con, con.prepare(SQL_CLAIM)
        return _state["con"], _state["statement"]


def handle(request: flask.Request) -> flask.Response:
    """Claim the event's id in one prepared transaction; answer 202 with an empty body."""
    request.get_data()
    con, statement = _prepared()
    with _lock:
        con.run("BEGIN")
        statement.run(id=request.headers.get("ce-id", ""))
        con.run("COMMIT")
    return flask.Response(b"", status=202)
