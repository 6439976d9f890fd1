"""The cold-start floor (issue 12): a bare functions-framework process with run-complete's
imports and a handler that does nothing (answers 202)."""

from __future__ import annotations

import flask

import functions.run_complete.main  # noqa: F401  (the same imports as the subject)


def handle(request: flask.Request) -> flask.Response:
    """Answer 202 with an empty body."""
    request.get_data()
    return flask.Response(b"", status=202)
