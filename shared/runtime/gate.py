"""The HTTP gate every request passes before any use case (DESIGN §6, §11).

* ``GET``/``HEAD`` on any path is the readiness answer (Knative probes ``/healthz``);
* only POST carries an event: any other method → 405 with ``Allow: GET, HEAD, POST``;
* a body over the function's limit (``max_body_bytes``, 1 MiB by default; github-webhook's
  ``github_webhook_max_body_bytes``, 25 MiB, GitHub's own cap) → 413, and no more than the
  limit is ever buffered: ``Content-Length`` is checked first, a chunked body is cut off;
* JSON event ``data`` passes :mod:`shared.runtime.limits` (depth, numbers, strings) → else 422.

The runtime (:mod:`shared.runtime.handler`) answers each refusal with a JSON body naming the field
and stores it as a dead letter; github-webhook and notify use the same gate.
"""

from __future__ import annotations

import io
import json

import flask
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

from shared.errors import MethodNotAllowedError, PayloadTooLargeError, PermanentError
from shared.runtime.envelope import Envelope

#: How much of a refused (413) body is read and dropped before the connection is closed.
DISCARD_MAX_BYTES = 64 * 1024 * 1024
#: The methods every function answers: GET/HEAD (readiness) and POST (an event).
ALLOWED_METHODS = "GET, HEAD, POST"


def readiness(consumer: str) -> flask.Response:
    """The answer to ``GET``/``HEAD`` on any path: the Knative readiness probe."""
    body = json.dumps({"function": consumer, "ready": True})
    return flask.Response(body, status=200, mimetype="application/json")


def read_body(request: flask.Request, limit: int) -> bytes:
    """The body of a POST, read without buffering more than ``limit`` bytes.

    ``Content-Length`` is checked first; a chunked body is cut off once it passes ``limit``.

    Raises:
        MethodNotAllowedError: the method is not POST (``field`` = ``method``).
        PayloadTooLargeError: the body is larger than ``limit`` (``field`` = ``body``).
    """
    if request.method != "POST":
        raise MethodNotAllowedError(
            f"method {request.method} is not allowed; events come by POST "
            f"(GET and HEAD answer readiness)",
            field="method",
            allowed=ALLOWED_METHODS,
        )
    # One byte more than the limit is read: werkzeug cuts a chunked body at the maximum
    # without an error, so a body that fills the limit exactly must be told from a longer one.
    request.max_content_length = limit + 1
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:  # Content-Length alone says it is too large
        body = None
    if body is None or len(body) > limit:
        _discard_rest(request, len(body or b""))
        raise PayloadTooLargeError(
            f"body is larger than {limit} bytes (setting max_body_bytes)",
            field="body",
            limit=limit,
        )
    return body


def _discard_rest(request: flask.Request, already: int) -> None:
    """Read and drop what is left of a refused body, 64 KiB at a time and at most
    :data:`DISCARD_MAX_BYTES`, so the client reads the 413 instead of a reset connection; the
    framework's own read after the response then finds an empty stream. Past the cap the
    connection is closed (the 413 carries ``Connection: close``)."""
    environ = request.environ
    length = request.content_length
    raw = environ["wsgi.input"]
    if length is not None or "wsgi.input_terminated" in environ:
        stream = LimitedStream(raw, length - already) if length is not None else raw
        left = DISCARD_MAX_BYTES
        while left > 0 and (chunk := stream.read(min(65536, left))):
            left -= len(chunk)
    request.stream = io.BytesIO(b"")


def check_data(event: Envelope) -> None:
    """Apply :mod:`shared.runtime.limits` to JSON ``data`` before any use case sees it.

    Data that is not JSON (a YAML Kafka record) is left to the use case's own reader, which
    applies the same limits (:mod:`shared.argo.decode`).

    Raises:
        InvalidDataError: a limit is exceeded (422 naming the field).
    """
    head = event.data.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            event.json()  # kept on the envelope: the use case reads this parse
        except PermanentError as exc:
            if exc.details.get("limit"):
                raise
            # not JSON after all: the use case decides what it accepts
