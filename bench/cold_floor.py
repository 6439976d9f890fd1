"""The cold-start floor (issue 12): a bare functions-framework process with run-complete's
imports and a handler that does nothing (answers 202).

"The same imports" are the modules run-complete has loaded by the time it answers its first
completion: its entry module, and the artifact adapters and fetcher it imports on first use
(boto3 among them, ~0.2 s). The ratio is then what run-complete adds beyond importing:
settings, the container, the schema check, the first connection and statements.
"""

from __future__ import annotations

import flask

import functions.run_complete.main  # noqa: F401
import shared.adapters.argo_artifacts
import shared.adapters.s3_artifacts
import shared.artifacts.fetch  # noqa: F401


def handle(request: flask.Request) -> flask.Response:
    """Answer 202 with an empty body."""
    request.get_data()
    return flask.Response(b"", status=202)
