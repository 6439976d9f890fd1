"""The baseline: a functions-framework ``http`` function that reads nothing and answers 202."""

from __future__ import annotations

import flask


def handle(request: flask.Request) -> flask.Response:
    """Answer 202 with an empty body, as a function with nothing to say does."""
    request.get_data()
    return flask.Response(b"", status=202)
