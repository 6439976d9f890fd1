"""HttpxArgoArtifactStore: run artifacts read through the Argo Server, for clusters where this
process cannot reach the bucket.

The Argo Server's ``ArtifactService`` (``server/artifacts/artifact_server.go``,
``GetArtifactFile``) serves an output artifact as the stored object's bytes at::

    GET /artifact-files/{namespace}/workflows/{name}/{nodeId}/outputs/{artifactName}
    GET /artifact-files/{namespace}/archived-workflows/{uid}/{nodeId}/outputs/{artifactName}

The first reads a workflow still in the cluster, the second one from the workflow archive by
its uid (after the Workflow object was garbage-collected). This store asks for the live
workflow first and, when that answers 404 or fails (the server answers 500 for a workflow it
no longer has), for the archived one; only when every path failed is the failure raised.

Reads are bounded: the body is streamed and reading stops one byte past the cap; the
``Content-Length`` header, when sent, tells the object's real size. 5xx answers, 408 and
transport errors are retried ``max_attempts`` times in all with exponential backoff
(``backoff_s * 2**n``); then :class:`~shared.errors.UpstreamError`. 404 → ``missing`` (a value);
other 4xx → :class:`~shared.errors.UpstreamRejectedError`. A bearer token is sent when
configured (``Authorization: Bearer <token>``, as for the workflow API).
"""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx

from shared.adapters.http import bearer_client, raise_for_status
from shared.artifacts.port import ArtifactLocation, FetchedArtifact, StoreKind
from shared.errors import UpstreamError
from shared.settings import Settings

SERVICE = "Argo Server (artifacts)"


def artifact_paths(location: ArtifactLocation) -> list[str]:
    """The Argo Server paths that serve ``location``, live workflow first (module docstring);
    empty when the namespace, node id or both workflow name and uid are unknown."""
    if not location.namespace or not location.node_id:
        return []
    tail = f"{quote(location.node_id, safe='')}/outputs/{quote(location.artifact_name, safe='')}"
    namespace = quote(location.namespace, safe="")
    paths = []
    if location.workflow_name:
        name = quote(location.workflow_name, safe="")
        paths.append(f"/artifact-files/{namespace}/workflows/{name}/{tail}")
    if location.workflow_uid:
        uid = quote(location.workflow_uid, safe="")
        paths.append(f"/artifact-files/{namespace}/archived-workflows/{uid}/{tail}")
    return paths


class HttpxArgoArtifactStore:
    """Reads artifacts through the Argo Server.

    Args:
        base_url: the Argo Server, e.g. ``https://argo.example.com:2746``.
        token: a bearer token, or None.
        timeout_s: per-request timeout, seconds.
        max_attempts: tries per path for 5xx/408/transport errors (≥ 1).
        backoff_s: the first wait between tries, seconds (doubles each time).
        transport: an httpx transport (tests).
    """

    kind: StoreKind = "argo-server"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = bearer_client(
            base_url, token=token, timeout_s=timeout_s, transport=transport
        )
        self._client.headers["Accept"] = "*/*"
        self._max_attempts = max(1, max_attempts)
        self._backoff_s = backoff_s

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpxArgoArtifactStore | None:
        """The store for ``argo_server_url``, or None when no Argo Server is configured."""
        if not settings.argo_server_url:
            return None
        token = settings.argo_token.get_secret_value() if settings.argo_token else None
        return cls(
            settings.argo_server_url,
            token=token,
            timeout_s=settings.artifact_timeout_s,
            max_attempts=settings.artifact_max_attempts,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def fetch(self, location: ArtifactLocation, *, max_bytes: int) -> FetchedArtifact:
        """Read at most ``max_bytes`` of the artifact (see the module docstring)."""
        paths = artifact_paths(location)
        if not paths:
            return FetchedArtifact(
                status="unlocated",
                source=self.kind,
                detail=f"no namespace, node id or workflow name/uid for {location.name}",
            )
        failure: UpstreamError | None = None
        for path in paths:
            try:
                found = self._read(path, max_bytes)
            except UpstreamError as exc:
                # The Argo Server answers 500, not 404, for a workflow it no longer has
                # (GetArtifactFile → serverInternalError): the archive may still have it.
                failure = exc
                continue
            if found is not None:
                return found
        if failure is not None:
            raise failure
        return FetchedArtifact(
            status="missing",
            source=self.kind,
            where=paths[-1],
            detail=f"the Argo Server answered 404 for {' and '.join(paths)}",
        )

    def _read(self, path: str, max_bytes: int) -> FetchedArtifact | None:
        """One path, retried; None on 404."""
        for attempt in range(self._max_attempts):
            last = attempt == self._max_attempts - 1
            try:
                with self._client.stream("GET", path) as resp:
                    if resp.status_code == 404:
                        return None
                    if resp.status_code >= 500 or resp.status_code == 408:
                        if last:
                            resp.read()
                            raise_for_status(resp, service=SERVICE)
                        self._wait(attempt)
                        continue
                    if resp.status_code >= 400:
                        resp.read()
                        raise_for_status(resp, service=SERVICE)
                    content = _bounded_body(resp, max_bytes)
                    length = resp.headers.get("content-length")
                    size = int(length) if length and length.isdigit() else None
                    return FetchedArtifact.read(self.kind, path, content, cap=max_bytes, size=size)
            except httpx.TransportError as exc:
                if last:
                    raise UpstreamError(
                        f"{SERVICE} could not be read at {path}: {type(exc).__name__}: {exc}",
                        service=SERVICE,
                    ) from exc
                self._wait(attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, attempt: int) -> None:
        if self._backoff_s > 0:
            time.sleep(self._backoff_s * 2**attempt)


def _bounded_body(resp: httpx.Response, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of the body (one more tells that there was more)."""
    chunks: list[bytes] = []
    read = 0
    for chunk in resp.iter_bytes():
        chunks.append(chunk)
        read += len(chunk)
        if read > max_bytes:
            break
    return b"".join(chunks)[: max_bytes + 1]
