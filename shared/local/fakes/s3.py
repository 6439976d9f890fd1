"""The local artifact repository: moto's S3 server (``moto[server]``, the S3 REST API over real
HTTP) on a loopback port, for ``codex-judge up``/``demo`` and the tests. Any access key pair is
accepted; buckets and objects live in memory, per process rather than per server (moto's
backends are module state; ``POST /moto-api/reset`` empties them)."""

from __future__ import annotations

from collections.abc import Mapping
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


def put_objects(url: str, objects: Mapping[tuple[str, str], bytes]) -> None:
    """Create the buckets and put ``objects`` (``(bucket, key) → bytes``) into the S3 server at
    ``url``, through the S3 API as any uploader would (boto3)."""
    import boto3

    client: Any = boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
    )
    for bucket in sorted({bucket for bucket, _ in objects}):
        client.create_bucket(Bucket=bucket)
    for (bucket, key), body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
