"""moto's S3 server on a loopback port, and a faulting proxy in front of it.

moto (``moto[server]``) answers the S3 REST API over real HTTP. :class:`FaultingS3Proxy`
forwards every request to it unchanged, except that the next ``n`` requests armed with
:meth:`FaultingS3Proxy.fail_next` are answered with S3's own error document for a server-side
fault (``InternalError``, "Error Responses" in the Amazon S3 API reference), so a test can stage
a 5xx followed by success as botocore sees it on the wire.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import flask
import httpx

from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.s3 import serve_s3

S3_INTERNAL_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    "<Message>We encountered an internal error. Please try again.</Message></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@contextmanager
def moto_s3() -> Iterator[str]:
    """A moto server on 127.0.0.1 (the local mesh's own), empty; yields its URL.

    moto keeps its buckets per process, not per server, so the state is reset on the way in
    and out (``POST /moto-api/reset``, moto's server-mode reset): one test module's objects
    never show up in another's.
    """
    served = serve_s3()
    httpx.post(f"{served.url}/moto-api/reset", timeout=10).raise_for_status()
    try:
        yield served.url
    finally:
        httpx.post(f"{served.url}/moto-api/reset", timeout=10).raise_for_status()
        served.stop()


class FaultingS3Proxy:
    """Forwards to ``upstream`` (moto) on its own loopback URL; see the module docstring."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[tuple[str, str, int]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=upstream, timeout=10.0)
        self._served: ServedFake = serve_fake(self._app())
        self.url = self._served.url

    def fail_next(self, times: int = 1, status: int = 500) -> None:
        """Answer the next ``times`` requests with ``status`` and S3's ``InternalError``."""
        with self._lock:
            self._failures.extend([status] * times)

    def stop(self) -> None:
        """Stop serving."""
        self._served.stop()
        self._client.close()

    def _app(self) -> flask.Flask:
        app = flask.Flask("faulting_s3_proxy")

        @app.route("/", defaults={"path": ""}, methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
        @app.route("/<path:path>", methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
        def forward(path: str) -> flask.Response:
            request = flask.request
            with self._lock:
                status = self._failures.pop(0) if self._failures else None
            if status is not None:
                self.requests.append((request.method, request.path, status))
                return flask.Response(
                    S3_INTERNAL_ERROR, status=status, content_type="application/xml"
                )
            headers: dict[str, Any] = {
                k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            answer = self._client.request(
                request.method,
                request.full_path if request.query_string else request.path,
                headers=headers,
                content=request.get_data(),
            )
            self.requests.append((request.method, request.path, answer.status_code))
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
            return flask.Response(answer.content, status=answer.status_code, headers=out)

        return app
