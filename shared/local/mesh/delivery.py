"""Knative delivery semantics as a pure policy: durations, backoff, retry, dead letters.

Sources (Knative Eventing "Event delivery" docs and the ``DeliverySpec`` API):

* ``retry``: the number of retries after the first attempt (so ``retry: 3`` = 4 attempts).
* ``backoffDelay`` is an ISO-8601 duration; the wait before retry *n* (n = 1, 2, …) is
  ``backoffDelay * n`` (``linear``) or ``backoffDelay * 2^n`` (``exponential``, the default).
* A delivery is retried on a network error, any 5xx, and 404, 408, 409 and 429; any other
  non-2xx answer sends the event straight to the dead-letter sink. A 429 or 503 with
  ``Retry-After`` (seconds or an HTTP date) waits at least that long, capped by
  ``retryAfterMax`` when it is set.
* ``timeout`` bounds each attempt.
* A dead-lettered event carries ``knativeerrordest`` (the subscriber URL), ``knativeerrorcode``
  (its last HTTP status) and ``knativeerrordata`` (base64 of its response body, at most 1024
  bytes of it).

Durations are returned in seconds (float).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

from shared.local.mesh.manifests import DeliverySpec

RETRYABLE_4XX = frozenset({404, 408, 409, 429})
RETRY_AFTER_STATUSES = frozenset({429, 503})
ERROR_DATA_LIMIT = 1024
DEFAULT_TIMEOUT_S = 30.0

_DURATION = re.compile(
    r"P(?:(?P<w>\d+(?:[.,]\d+)?)W)?(?:(?P<d>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<m>\d+(?:[.,]\d+)?)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?"
)
_UNIT_S = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


class Outcome(Enum):
    """What to do after one attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


def parse_duration(text: str, field: str = "duration") -> float:
    """An ISO-8601 duration (``PT0.2S``, ``PT1M``, ``P1DT2H``) in seconds.

    Years and months are rejected (their length is not fixed).

    Raises:
        ValueError: names ``field`` and shows the expected shape.
    """
    match = _DURATION.fullmatch(text.strip().upper()) if text else None
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(
            f"{field}: {text!r} is not an ISO-8601 duration such as PT0.2S, PT1M "
            "or P1DT2H (years and months are not supported)"
        )
    return sum(float(v.replace(",", ".")) * _UNIT_S[k] for k, v in match.groupdict().items() if v)


def classify(status: int | None) -> Outcome:
    """The Knative verdict on one attempt; ``status`` None means a network error or timeout."""
    if status is not None and 200 <= status < 300:
        return Outcome.DELIVERED
    if status is None or status >= 500 or status in RETRYABLE_4XX:
        return Outcome.RETRY
    return Outcome.DEAD_LETTER


@dataclass(frozen=True)
class DeliveryPolicy:
    """The effective delivery of one subscription, with durations in seconds.

    Attributes:
        retry: retries after the first attempt (0 = one attempt only).
        backoff_policy: ``linear`` or ``exponential``.
        backoff_delay_s: the base delay.
        timeout_s: the bound on each attempt.
        retry_after_max_s: cap on a ``Retry-After`` wait (None = uncapped).
    """

    retry: int = 0
    backoff_policy: str = "exponential"
    backoff_delay_s: float = 0.0
    timeout_s: float = DEFAULT_TIMEOUT_S
    retry_after_max_s: float | None = None

    @classmethod
    def from_spec(cls, spec: DeliverySpec | None) -> DeliveryPolicy:
        """The policy of a ``spec.delivery`` (None → one attempt, no backoff).

        Raises:
            ValueError: a duration field is malformed (named ``delivery.<field>``).
        """
        if spec is None:
            return cls()
        return cls(
            retry=max(0, spec.retry or 0),
            backoff_policy=spec.backoff_policy or "exponential",
            backoff_delay_s=(
                parse_duration(spec.backoff_delay, "delivery.backoffDelay")
                if spec.backoff_delay
                else 0.0
            ),
            timeout_s=(
                parse_duration(spec.timeout, "delivery.timeout")
                if spec.timeout
                else DEFAULT_TIMEOUT_S
            ),
            retry_after_max_s=(
                parse_duration(spec.retry_after_max, "delivery.retryAfterMax")
                if spec.retry_after_max
                else None
            ),
        )

    def backoff_s(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1 for the first retry), in seconds."""
        if self.backoff_policy == "linear":
            return self.backoff_delay_s * retry_number
        return self.backoff_delay_s * float(2**retry_number)

    def next_delay_s(
        self,
        attempt: int,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> float | None:
        """After failed attempt ``attempt`` (1-based), the wait before the next one, or None
        when the retries are spent or the answer is not retryable (→ dead-letter sink)."""
        if classify(status) is not Outcome.RETRY or attempt > self.retry:
            return None
        delay = self.backoff_s(attempt)
        if status in RETRY_AFTER_STATUSES and headers is not None:
            wait = retry_after_s(headers, now)
            if wait is not None:
                if self.retry_after_max_s is not None:
                    wait = min(wait, self.retry_after_max_s)
                delay = max(delay, wait)
        return delay


def retry_after_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3: delay-seconds or an HTTP date) in seconds, or None."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def dead_letter_extensions(destination: str, status: int | None, body: bytes) -> dict[str, str]:
    """The extensions Knative adds to a dead-lettered event.

    Args:
        destination: the subscriber's URL (``http://<svc>.<ns>.svc.cluster.local``).
        status: its last HTTP status (None after a network error: no code, no data).
        body: its last response body; only the first 1024 bytes are kept.
    """
    ext = {"knativeerrordest": destination}
    if status is not None:
        ext["knativeerrorcode"] = str(status)
        if body:
            ext["knativeerrordata"] = base64.b64encode(body[:ERROR_DATA_LIMIT]).decode()
    return ext
