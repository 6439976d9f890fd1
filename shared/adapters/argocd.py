"""HttpxArgoCD: the Argo CD API server (``ApplicationService``) over httpx.

Three calls, from the Argo CD API reference (``/api/v1/applications``):

* ``POST /api/v1/applications/{name}/sync`` with ``{"name", "revision"}`` — start a sync
  operation to ``revision`` (a Git SHA); answers the Application. Argo CD runs one operation at
  a time: while one runs it answers 400 with grpc code 9 (``FailedPrecondition``, ``another
  operation is already in progress``). :meth:`HttpxArgoCD.sync` then reads the Application: when
  the operation syncs the same revision it is this sync, started by a worker that died before
  recording it (issue 10), and is answered as started; any other operation is transient (503,
  retried until it ends);
* ``GET /api/v1/applications/{name}`` — the Application; what matters here is
  ``status.sync.status`` (``Synced``/``OutOfSync``/``Unknown``), ``status.sync.revision`` (the
  Git SHA in the cluster), ``status.health.status`` (``Healthy``/``Progressing``/``Degraded``/
  ``Suspended``/``Missing``/``Unknown``), ``status.operationState.phase``
  (``Running``/``Succeeded``/``Failed``/``Error``/``Terminating``) and ``status.history``
  (``[{id, revision, deployedAt}]``, oldest first);
* ``POST /api/v1/applications/{name}/rollback`` with ``{"name", "id"}`` — roll back to the
  history entry ``id``.

Errors follow :mod:`shared.adapters.http` (5xx/timeouts → 503, 429 → 429, other 4xx → 422).
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.adapters.http import BearerJsonApi, body_json, raise_for_status, send
from shared.errors import UpstreamError
from shared.models.argocd import ApplicationState
from shared.settings import Settings

SERVICE = "Argo CD"
#: gRPC ``FailedPrecondition``: Argo CD's code for a sync while another operation runs.
FAILED_PRECONDITION = 9


def _grpc_code(resp: httpx.Response) -> int | None:
    """The ``code`` of a grpc-gateway error body (``{"error", "code", "message"}``), if any."""
    try:
        body = resp.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


class HttpxArgoCD(BearerJsonApi):
    """The Argo CD API server.

    Args:
        base_url: e.g. ``https://argocd.example.com``.
        token: an API token sent as ``Authorization: Bearer <token>``, or None.
        timeout_s: per-request timeout in seconds.
        transport: an httpx transport (tests).
    """

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpxArgoCD:
        """Build from ``argocd_url``, ``argocd_token`` and ``argocd_timeout_s``.

        Raises:
            UpstreamError: no ``argocd_url`` is configured (503: configuration may arrive).
        """
        if not settings.argocd_url:
            raise UpstreamError("argocd_url is not configured", field="argocd_url")
        token = settings.argocd_token.get_secret_value() if settings.argocd_token else None
        return cls(settings.argocd_url, token=token, timeout_s=settings.argocd_timeout_s)

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        resp = send(self._client, method, path, service=SERVICE, **kwargs)
        raise_for_status(resp, service=SERVICE)
        return self._json_object(resp, path)

    @staticmethod
    def _json_object(resp: httpx.Response, path: str) -> dict[str, Any]:
        body = body_json(resp)
        if not isinstance(body, dict):
            raise UpstreamError(f"{SERVICE} answered {path} with a body that is not an object")
        return body

    def sync(self, application: str, revision: str) -> ApplicationState:
        """Start a sync of ``application`` to ``revision`` (40-hex Git SHA).

        Raises:
            UpstreamError, RateLimitedError, UpstreamRejectedError: see module docstring.
        """
        body = {"name": application, "revision": revision, "prune": False, "dryRun": False}
        path = f"/api/v1/applications/{application}/sync"
        resp = send(self._client, "POST", path, service=SERVICE, json=body)
        if resp.status_code == 400 and _grpc_code(resp) == FAILED_PRECONDITION:
            current = self.get_application(application)
            if current.operation_revision == revision:  # running, or finished since the POST
                return current
            raise UpstreamError(
                f"{SERVICE} is running another operation on {application}"
                f" ({current.operation_phase} at {current.operation_revision}); retried",
                service=SERVICE,
                upstream_status=400,
            )
        raise_for_status(resp, service=SERVICE)
        return ApplicationState.from_application(application, self._json_object(resp, path))

    def get_application(self, application: str) -> ApplicationState:
        """The current state of ``application``.

        Raises:
            UpstreamError, RateLimitedError, UpstreamRejectedError: see module docstring.
        """
        app = self._object("GET", f"/api/v1/applications/{application}")
        return ApplicationState.from_application(application, app)

    def rollback(self, application: str, history_id: int) -> ApplicationState:
        """Roll ``application`` back to its ``status.history`` entry ``history_id``.

        Raises:
            UpstreamError, RateLimitedError, UpstreamRejectedError: see module docstring.
        """
        body = {"name": application, "id": history_id, "prune": False, "dryRun": False}
        app = self._object("POST", f"/api/v1/applications/{application}/rollback", json=body)
        return ApplicationState.from_application(application, app)
