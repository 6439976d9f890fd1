"""The one exception tree. Its two branches decide what the delivering Broker does next.

::

    CodexJudgeError
    ├── PermanentError            400/422 → Knative sends the event to the dead-letter sink
    │   ├── MalformedEventError   400: not a CloudEvent, or a required attribute is missing
    │   ├── InvalidDataError      422: ``data`` fails its pydantic model or an input limit
    │   │                         (:mod:`shared.runtime.limits`; names the field)
    │   ├── MethodNotAllowedError 405: not POST (GET/HEAD are the readiness answer)
    │   ├── PayloadTooLargeError  413: the body exceeds the function's ``max_body_bytes``
    │   ├── UnauthorizedError     401: a webhook whose signature does not verify (stored nowhere)
    │   └── UpstreamRejectedError 422: an upstream answered a 4xx that retrying cannot change
    │       └── UpstreamNotFoundError 422: GitHub does not know the repository, pull request or
    │                             commit (404/410); the gates record it as a decision
    │                             (``needs_human``, ``<resource>_not_found``), never a dead letter
    ├── TransientError            503 → Knative retries with the Trigger's backoff
    │   ├── RateLimitedError      429 with ``Retry-After`` (seconds)
    │   ├── ConflictError         409: the same work is already in progress
    │   ├── UpstreamError         503: GitHub/LLM/Discord/Argo answered 5xx or did not answer
    │   │   └── SinkNotBoundError 503: no ``K_SINK`` to publish to (no SinkBinding yet)
    │   └── SchemaBehindError     503: the database lacks migrations this build needs (the
    │                             migration Job may still be running)
    └── ConfigurationError        500: the deployment is wrong, not the event, and no retry of
        │                         this process can cure it; logged at ERROR naming the setting
        └── DatabaseConfigError   500: Postgres TLS/certificate settings do not work (names
                                  host:port, sslmode, sslrootcert and the verification reason)

A :class:`ConfigurationError` is answered 500, not 503 and not 4xx: Knative retries a 5xx only
up to the Trigger's ``retry`` count and then hands the event to the dead-letter sink, so the
event is kept for replay once the operator fixes the setting, while the 500 (and its ERROR log
line) does not pose as an outage that fixes itself the way a 503 does, nor blames the event the
way a 4xx does.

Source: DESIGN §6 (delivery contract) and Knative's retry rules (5xx, 404, 408, 409, 429 and
network errors are retried; any other 4xx goes straight to the dead-letter sink).
"""

from __future__ import annotations

from typing import Any


class CodexJudgeError(Exception):
    """Root of every error this project raises on purpose."""

    status: int = 500

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": kind, "message": str, "field": str|None, ...}``."""
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        out.update({k: v for k, v in self.details.items() if v is not None})
        return out


class PermanentError(CodexJudgeError):
    """Retrying cannot help: the input itself is wrong."""

    status = 422


class MalformedEventError(PermanentError):
    """The request is not a readable CloudEvent (or JSON body where one is expected)."""

    status = 400


class InvalidParameterError(PermanentError):
    """A query parameter or header of an HTTP API request is invalid; ``field`` names it."""

    status = 400


class InvalidDataError(PermanentError):
    """The event's ``data`` does not validate against its model; ``field`` names the path."""

    status = 422


class MethodNotAllowedError(PermanentError):
    """Only POST carries an event; the answer names the allowed methods (``Allow``)."""

    status = 405


class PayloadTooLargeError(PermanentError):
    """The request body is larger than the configured limit (``limit`` in bytes)."""

    status = 413


class UnauthorizedError(PermanentError):
    """A signed request whose signature is missing or does not verify."""

    status = 401


class UpstreamRejectedError(PermanentError):
    """An upstream service answered a 4xx that retrying cannot change (bad request, not
    allowed). ``details`` carry ``service``, ``upstream_status`` and the upstream message.
    Mapped from HTTP answers in :mod:`shared.adapters.http`."""

    status = 422


class UpstreamNotFoundError(UpstreamRejectedError):
    """The upstream answered 404/410 for a resource a run names: its pull request was deleted,
    its repository renamed, made private or the app uninstalled (GitHub answers 404 to all).

    A domain "not found" is a decision, never a 404 to Knative (DESIGN §6): the gates catch
    this and move the run to ``needs_human`` with :attr:`reason`. Uncaught it is a 422.

    Attributes:
        resource: ``repository``, ``pull_request``, ``commit``, or ``installation`` (the
            GitHub App's installation: minting its token answered 404).
        repository: ``owner/name`` as asked for.
        ref: the pull request number or commit SHA asked for (None for the repository).
    """

    status = 422

    def __init__(
        self,
        message: str,
        *,
        resource: str,
        repository: str,
        ref: str | int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, resource=resource, repository=repository, ref=ref, **details)
        self.resource = resource
        self.repository = repository
        self.ref = ref

    @property
    def reason(self) -> str:
        """The run's ``needs_human`` reason: ``pull_request_not_found``,
        ``repository_not_found``, ``commit_not_found`` or ``installation_not_found``."""
        return f"{self.resource}_not_found"


class TransientError(CodexJudgeError):
    """The same request may succeed later (database down, upstream 5xx)."""

    status = 503


class UpstreamError(TransientError):
    """An external service failed or did not answer in time."""

    status = 503


class SinkNotBoundError(UpstreamError):
    """``K_SINK`` is not set: the Service has no SinkBinding, so it cannot publish to the Broker
    (answered 503 and retried: the binding may arrive)."""


class RateLimitedError(TransientError):
    """An upstream rate limit; ``retry_after`` is in seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after: float, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class ConflictError(TransientError):
    """Another delivery of the same work holds the lock; retry later."""

    status = 409


class SchemaBehindError(TransientError):
    """The database schema is older than the newest migration this build ships."""

    status = 503


class ConfigurationError(CodexJudgeError):
    """The deployment's settings are wrong; only an operator can fix it (see module docstring)."""

    status = 500


class DatabaseConfigError(ConfigurationError):
    """Postgres cannot be reached as configured: a TLS certificate that does not verify, a
    missing ``sslrootcert`` file, a server that refuses TLS under ``sslmode=require`` or
    stricter. The message names host:port, sslmode, sslrootcert and the reason."""

    status = 500
