"""S3ArtifactStore: run artifacts read straight from the artifact repository (S3, MinIO)
through boto3.

Where: the artifact's own ``bucket``/``key`` (run-complete already filled a missing bucket from
``status.artifactRepositoryRef``), else the configured bucket, and Argo's key layout
(:func:`shared.artifacts.keys.default_key`). The endpoint is the configured one (how this
process reaches the bucket), else the artifact's recorded ``endpoint`` (``minio:9000``: https,
or http with ``artifact_s3_insecure``), else AWS.

Credentials: the configured access key pair, else boto3's own chain (``AWS_*`` environment,
IRSA's web identity token, shared config, instance profile; boto3 "Credentials" guide).

Reads are bounded: one ranged ``GetObject`` (``Range: bytes=0-<cap>``, RFC 9110 §14) asks for
one byte more than the cap, and ``Content-Range``'s complete length tells the object's size.
Timeouts and retries are botocore's: ``connect_timeout``/``read_timeout`` and the ``standard``
retry mode (retries 500/502/503/504, throttling and connection errors, with jittered backoff).

Outcomes: ``NoSuchKey``/``NoSuchBucket``/404 → ``missing`` (a value); 403 and other 4xx →
:class:`~shared.errors.UpstreamRejectedError`; 5xx after the retries, timeouts, refused
connections → :class:`~shared.errors.UpstreamError`.
"""

from __future__ import annotations

import re
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.artifacts.keys import default_key
from shared.artifacts.port import ArtifactLocation, FetchedArtifact, StoreKind
from shared.errors import UpstreamError, UpstreamRejectedError
from shared.settings import Settings

SERVICE = "S3"
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_CONTENT_RANGE = re.compile(r"bytes \d+-\d+/(\d+)")


class S3ArtifactStore:
    """Reads artifacts from S3-compatible storage.

    Args:
        endpoint_url: the endpoint to use for every artifact (wins over recorded endpoints).
        insecure: reach a recorded scheme-less endpoint over http instead of https.
        region: the signing region.
        bucket: the bucket when an artifact records none.
        key_format: the artifact repository's ``keyFormat`` (None → Argo's default).
        access_key_id, secret_access_key: static credentials; None → boto3's chain.
        timeout_s: connect and read timeout, seconds.
        max_attempts: total tries per request, the first included (botocore ``standard``
            retry mode, ``total_max_attempts``).
    """

    kind: StoreKind = "s3"

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        insecure: bool = False,
        region: str = "us-east-1",
        bucket: str | None = None,
        key_format: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeout_s: float = 30.0,
        max_attempts: int = 3,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._insecure = insecure
        self._region = region
        self._bucket = bucket
        self._key_format = key_format
        self._credentials = (
            {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
            if access_key_id and secret_access_key
            else {}
        )
        self._config = Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": "path"},
        )
        self._clients: dict[str | None, Any] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ArtifactStore:
        """The store the settings describe (``CODEX_JUDGE_ARTIFACT_*``)."""
        key_id = settings.artifact_s3_access_key_id
        secret = settings.artifact_s3_secret_access_key
        return cls(
            endpoint_url=settings.artifact_s3_endpoint_url,
            insecure=settings.artifact_s3_insecure,
            region=settings.artifact_s3_region,
            bucket=settings.artifact_s3_bucket,
            key_format=settings.artifact_s3_key_format,
            access_key_id=key_id.get_secret_value() if key_id else None,
            secret_access_key=secret.get_secret_value() if secret else None,
            timeout_s=settings.artifact_timeout_s,
            max_attempts=settings.artifact_max_attempts,
        )

    def _endpoint(self, location: ArtifactLocation) -> str | None:
        if self._endpoint_url:
            return self._endpoint_url
        recorded = location.endpoint
        if not recorded:
            return None
        if "://" in recorded:
            return recorded
        return f"{'http' if self._insecure else 'https'}://{recorded}"

    def _client(self, endpoint: str | None) -> Any:
        if endpoint not in self._clients:
            self._clients[endpoint] = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint,
                region_name=self._region,
                config=self._config,
                **self._credentials,
            )
        return self._clients[endpoint]

    def fetch(self, location: ArtifactLocation, *, max_bytes: int) -> FetchedArtifact:
        """Read at most ``max_bytes`` of the artifact (see the module docstring)."""
        bucket = location.bucket or self._bucket
        key = location.key or default_key(location, self._key_format)
        if not bucket or not key:
            what = "bucket" if not bucket else "key (and no pod name for the key format)"
            return FetchedArtifact(
                status="unlocated", source=self.kind, detail=f"no {what} for {location.name}"
            )
        where = f"s3://{bucket}/{key}"
        client = self._client(self._endpoint(location))
        try:
            try:
                answer = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")
            except ClientError as exc:
                if _code(exc) != "InvalidRange":
                    raise
                # An empty object has no byte 0 (RFC 9110 §15.5.17): read it whole.
                answer = client.get_object(Bucket=bucket, Key=key)
            try:
                content = answer["Body"].read(max_bytes + 1)
            finally:
                answer["Body"].close()  # hand the connection back to the pool
        except ClientError as exc:
            code = _code(exc)
            if code in _MISSING_CODES:
                return FetchedArtifact(
                    status="missing", source=self.kind, where=where, detail=f"S3 answered {code}"
                )
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            message = f"S3 answered {status or '?'} {code} for {where}"
            if status >= 500 or status in (0, 408):
                raise UpstreamError(message, service=SERVICE, upstream_status=status) from exc
            raise UpstreamRejectedError(message, service=SERVICE, upstream_status=status) from exc
        except BotoCoreError as exc:
            raise UpstreamError(
                f"S3 could not be read for {where}: {type(exc).__name__}: {exc}", service=SERVICE
            ) from exc
        return FetchedArtifact.read(
            self.kind, where, content, cap=max_bytes, size=_object_size(answer)
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def _object_size(answer: dict[str, Any]) -> int | None:
    """The whole object's size: ``Content-Range``'s complete length, else ``Content-Length``."""
    match = _CONTENT_RANGE.fullmatch(str(answer.get("ContentRange") or ""))
    if match:
        return int(match.group(1))
    length = answer.get("ContentLength")
    return int(length) if isinstance(length, int) else None
