"""POST the enrichment payload to notify with bounded retry and backoff (issue 13,
``codex-judge notify-run``). Never raises: the Argo step that calls it must not fail or hang
the workflow it reports on, so every outcome is a :class:`Delivery` value.

Retried: transport errors (refused, reset, timeout), 408, 429 and 5xx — the answers Knative
and a restarting notify Service give — with exponential backoff (``backoff_s`` * 2^n, or the
server's ``Retry-After`` when it is shorter than ``max_wait_s``), until ``attempts`` are spent
or ``deadline_s`` would pass. Any other 4xx (a payload notify refuses) is final at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from shared.adapters.http import error_message, retry_after_seconds

__all__ = ["Delivery", "post_notify"]

_RETRIED = {408, 429}


@dataclass(frozen=True)
class Delivery:
    """What became of the POST: ``delivered`` (a 2xx), the ``attempts`` made, the last HTTP
    ``status`` (None after a transport error) and a one-line ``detail``."""

    delivered: bool
    attempts: int
    status: int | None
    detail: str


def post_notify(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = 4,
    timeout_s: float = 10.0,
    backoff_s: float = 1.0,
    max_wait_s: float = 8.0,
    deadline_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> Delivery:
    """POST ``payload`` as JSON to ``url`` (see the module docstring).

    Args:
        url: notify's URL (the Service's address).
        payload: the body (:func:`shared.agents.enrichment.build_payload`).
        attempts: tries at most (≥ 1); timeout_s: per try, seconds.
        backoff_s: first wait, seconds, doubled per retry, capped at ``max_wait_s``.
        deadline_s: seconds from the first try after which no retry starts.
        sleep: the wait (tests pass one that records instead of sleeping).
        transport: an httpx transport (tests); None uses the network.
    """
    started = time.monotonic()
    status: int | None = None
    detail = "not sent"
    with httpx.Client(timeout=timeout_s, transport=transport) as client:
        for attempt in range(1, max(1, attempts) + 1):
            wait = min(max_wait_s, backoff_s * 2 ** (attempt - 1))
            try:
                resp = client.post(url, json=payload, headers={"User-Agent": "codex-judge"})
            except httpx.HTTPError as exc:
                status, detail = None, f"{type(exc).__name__}: {exc}"
            else:
                status = resp.status_code
                if resp.is_success:
                    return Delivery(True, attempt, status, f"notify answered {status}")
                detail = f"notify answered {status}: {error_message(resp)}"
                if status < 500 and status not in _RETRIED:
                    return Delivery(False, attempt, status, detail)
                asked = retry_after_seconds(resp.headers)
                if asked is not None:
                    wait = min(max_wait_s, asked)
            if attempt >= attempts or time.monotonic() - started + wait > deadline_s:
                return Delivery(False, attempt, status, detail)
            sleep(wait)
    return Delivery(False, attempts, status, detail)  # pragma: no cover - loop always returns
