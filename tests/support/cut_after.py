"""Crash points of an effect, deterministically: a WSGI wrapper around a fake upstream that cuts
the database (a :class:`~tests.support.tcp_proxy.CuttableProxy`) at the moment the function
under test calls out — after the upstream answered (the record then fails), or before the
request reaches it (the worker "dies" before the call: nothing is sent and nothing recorded).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import flask

from shared.db import Database
from shared.db.pool import connect_params
from shared.local.fakes.base import ServedFake, serve_fake
from tests.support.tcp_proxy import CuttableProxy

Matcher = Callable[[str, str], bool]


class CutDatabaseAt:
    """Wrap ``app``; the next request ``match(method, path)`` accepts cuts ``proxy`` once.

    Args:
        app: the fake upstream's WSGI app.
        proxy: the proxy between the functions and Postgres.
    """

    def __init__(self, app: Callable[..., Any], proxy: CuttableProxy) -> None:
        self._app, self._proxy = app, proxy
        self._armed: tuple[Matcher, bool] | None = None
        self._lock = threading.Lock()

    def after_answer(self, match: Matcher) -> None:
        """The matching request reaches the upstream; the database goes before its answer."""
        self._armed = (match, True)

    def before_call(self, match: Matcher) -> None:
        """The matching request never reaches the upstream (502), and the database goes."""
        self._armed = (match, False)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        with self._lock:
            armed = self._armed
            hit = armed is not None and armed[0](method, path)
            if hit:
                self._armed = None
        if not hit or armed is None:
            return self._app(environ, start_response)
        if not armed[1]:
            self._proxy.cut()
            start_response("502 Bad Gateway", [("Content-Type", "application/json")])
            return [b'{"error": "the caller died before this request (test)"}']
        body = b"".join(self._app(environ, start_response))
        self._proxy.cut()
        return [body]


@contextlib.contextmanager
def served_cutting(
    app: Callable[..., Any], proxy: CuttableProxy
) -> Iterator[tuple[ServedFake, CutDatabaseAt]]:
    """The fake upstream ``app`` served over HTTP behind a :class:`CutDatabaseAt` on ``proxy``
    (the served fake and the wrapper that arms the cut); stopped on exit."""
    wrapped = CutDatabaseAt(app, proxy)
    served = serve_fake(wrapped)
    try:
        yield served, wrapped
    finally:
        served.stop()


@contextlib.contextmanager
def database_proxy(database_url: str) -> Iterator[CuttableProxy]:
    """A :class:`CuttableProxy` in front of the database ``database_url`` names."""
    params = connect_params(database_url)
    with CuttableProxy(params.get("unix_sock") or (params["host"], params["port"])) as proxy:
        yield proxy


def through(proxy: CuttableProxy, database_url: str) -> str:
    """The URL of ``database_url``'s database reached through ``proxy`` (TCP on loopback)."""
    params = connect_params(database_url)
    return f"postgresql://{params['user']}@127.0.0.1:{proxy.port}/{params['database']}"


@contextlib.contextmanager
def recording_sink() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A Broker ingress stand-in: ``(its URL, the headers of every event POSTed to it)``."""
    received: list[dict[str, str]] = []
    app = flask.Flask("sink")

    @app.post("/")
    def ingest() -> flask.Response:
        received.append({k.lower(): v for k, v in flask.request.headers.items()})
        return flask.Response(b"", status=202)

    served = serve_fake(app)
    try:
        yield served.url + "/", received
    finally:
        served.stop()


def time_passes(db: Database) -> None:
    """Every claim's lease and every pending timer's delay lie in the past (the clock passing,
    without sleeping in a test)."""
    with db.transaction() as tx:
        tx.run(
            "UPDATE runtime.effects SET claimed_at = now() - interval '10 minutes'"
            " WHERE state = 'claimed' AND claimed_at > '-infinity'"
        )
        tx.run(
            "UPDATE runtime.timers SET due_at = now() - interval '1 second' WHERE done_at IS NULL"
        )
