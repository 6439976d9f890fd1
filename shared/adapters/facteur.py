"""HttpxFacteur: submits a protobuf ``CodexTask`` to Facteur (DESIGN §7, issue 5 "rerun").

``POST {facteur_url}/codex/tasks`` with the serialized :class:`CodexTask` as the body and
``Content-Type: application/x-protobuf``. Facteur drops a repeated ``delivery_id``, so a retried
submission with the same key is harmless. Errors follow :mod:`shared.adapters.http`: 429 →
:class:`RateLimitedError`, 5xx/timeouts → :class:`UpstreamError`, other 4xx →
:class:`UpstreamRejectedError` (permanent).
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.adapters.http import body_json, raise_for_status, send
from shared.facteur.codex_task_pb2 import CodexTask
from shared.settings import Settings

SERVICE = "Facteur"
CONTENT_TYPE = "application/x-protobuf"
TASKS_PATH = "/codex/tasks"


class HttpxFacteur:
    """A Facteur client.

    Args:
        base_url: Facteur's base URL (no trailing ``/codex/tasks``).
        timeout_s: per-request timeout in seconds (keep it below the effects lease, 60 s).
        transport: an httpx transport (tests); None uses the network.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + TASKS_PATH
        self._client = httpx.Client(
            timeout=timeout_s, transport=transport, headers={"User-Agent": "codex-judge"}
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> HttpxFacteur:
        """Build from ``facteur_url`` / ``facteur_timeout_s``.

        Raises:
            ValueError: ``facteur_url`` is not set.
        """
        if not settings.facteur_url:
            raise ValueError("facteur_url is not set; expected Facteur's base URL")
        return cls(settings.facteur_url, timeout_s=settings.facteur_timeout_s, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def submit(self, task: CodexTask) -> dict[str, Any]:
        """Send ``task``; returns Facteur's JSON answer (``{}`` when the body is not JSON).

        Raises:
            RateLimitedError: 429.
            UpstreamError: 5xx, 408 or no answer.
            UpstreamRejectedError: any other 4xx (the task itself is refused).
        """
        resp = send(
            self._client,
            "POST",
            self._url,
            service=SERVICE,
            content=task.SerializeToString(),
            headers={"Content-Type": CONTENT_TYPE, "Accept": "application/json"},
        )
        raise_for_status(resp, service=SERVICE)
        body = body_json(resp)
        answer: dict[str, Any] = body if isinstance(body, dict) else {}
        answer.setdefault("status_code", resp.status_code)
        return answer
