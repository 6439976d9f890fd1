"""Crash points of an effect, deterministically: a WSGI wrapper around a fake upstream that cuts
the database (a :class:`~tests.support.tcp_proxy.CuttableProxy`) at the moment the function
under test calls out — after the upstream answered (the record then fails), or before the
request reaches it (the worker "dies" before the call: nothing is sent and nothing recorded).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

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
