"""The local artifact repository: moto's S3 server (``moto[server]``, the S3 REST API over real
HTTP) on a loopback port, for ``codex-judge up``/``demo`` and the tests. Any access key pair is
accepted; buckets and objects live in memory until it stops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The credentials the local functions sign with (moto checks none).
LOCAL_ACCESS_KEY_ID = "local-fake"
LOCAL_SECRET_ACCESS_KEY = "local-fake-secret"


@dataclass
class ServedS3:
    """moto's server on ``url`` (``http://127.0.0.1:<port>``) until :meth:`stop`."""

    url: str
    server: Any

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


def serve_s3(host: str = "127.0.0.1", port: int = 0) -> ServedS3:
    """Start moto's S3 server on ``host:port`` (0 picks a free port) in a daemon thread."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return ServedS3(url=f"http://{bound_host}:{bound_port}", server=server)
