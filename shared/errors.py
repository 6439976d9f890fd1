"""The one exception tree. Its two branches decide what the delivering Broker does next.

::

    CodexJudgeError
    ├── PermanentError            400/422 → Knative sends the event to the dead-letter sink
    │   ├── MalformedEventError   400: not a CloudEvent, or a required attribute is missing
    │   ├── InvalidDataError      422: ``data`` fails its pydantic model (names the field)
    │   └── UnauthorizedError     401: a webhook whose signature does not verify (stored nowhere)
    ├── TransientError            503 → Knative retries with the Trigger's backoff
    │   ├── RateLimitedError      429 with ``Retry-After`` (seconds)
    │   ├── ConflictError         409: the same work is already in progress
    │   ├── UpstreamError         503: GitHub/LLM/Discord/Argo answered 5xx or did not answer
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


class InvalidDataError(PermanentError):
    """The event's ``data`` does not validate against its model; ``field`` names the path."""

    status = 422


class UnauthorizedError(PermanentError):
    """A signed request whose signature is missing or does not verify."""

    status = 401


class TransientError(CodexJudgeError):
    """The same request may succeed later (database down, upstream 5xx)."""

    status = 503


class UpstreamError(TransientError):
    """An external service failed or did not answer in time."""

    status = 503


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
