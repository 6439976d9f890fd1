"""A loopback TCP proxy to Postgres that a test can cut and restore, to stage an outage.

Sockets are only ever closed by the thread that uses them: :meth:`CuttableProxy.cut` and
:meth:`CuttableProxy.close` call ``shutdown()``, which wakes a thread blocked in ``recv`` or
``accept`` on Linux, and that thread closes its own sockets on the way out. Closing a socket
under another thread's feet is a race: the freed descriptor number is reused by the next socket
the process opens (a function's server, a database connection), and the thread that was about to
enter ``recv``/``accept`` with the old number reads or accepts on the new socket instead —
stealing a request from an unrelated server, which then never answers.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
from typing import Any


class CuttableProxy:
    """Listens on 127.0.0.1:<port> and forwards to ``target`` (a Unix socket path or
    ``(host, port)``). :meth:`cut` drops every connection and refuses new ones until
    :meth:`restore`."""

    def __init__(self, target: str | tuple[str, int]) -> None:
        self.target = target
        self.up = True
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _connect_target(self) -> socket.socket:
        if isinstance(self.target, str):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            return upstream
        return socket.create_connection(self.target)

    def _accept(self) -> None:
        try:
            while not self._closed:
                try:
                    client, _ = self._listener.accept()
                except OSError:
                    return
                if not self.up or self._closed:
                    client.close()
                    continue
                try:
                    upstream = self._connect_target()
                except OSError:
                    client.close()
                    continue
                pair = (client, upstream)
                with self._lock:
                    self._pairs.append(pair)
                done = threading.Barrier(2, action=functools.partial(self._close_pair, pair))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b, done), daemon=True).start()
        finally:
            self._listener.close()

    def _close_pair(self, pair: tuple[socket.socket, socket.socket]) -> None:
        """Both pumps of ``pair`` have stopped: nobody uses its sockets any more."""
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        for sock in pair:
            sock.close()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, done: threading.Barrier) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        done.wait()  # the last pump out closes the pair

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.up = False
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        """Accept connections again."""
        self.up = True

    def close(self) -> None:
        """Drop every connection and stop listening (the accepting thread closes the socket)."""
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=5)

    def __enter__(self) -> CuttableProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
