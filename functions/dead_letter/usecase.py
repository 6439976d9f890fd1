"""The dead-letter use case: store a dead-lettered event once per (failing subscriber, source,
id), with the subscriber's error from Knative's extensions (see
:mod:`functions.dead_letter.main`)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

from shared.errors import PermanentError
from shared.runtime import dead_letters, limits
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome


def error_body(encoded: str | None) -> dict[str, Any]:
    """``knativeerrordata`` decoded: base64 of the subscriber's (truncated) response body, as a
    JSON object when it is one, else ``{"raw": …}``; ``{}`` when absent."""
    if not encoded:
        return {}
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return {"raw": encoded}
    try:
        parsed = limits.loads(raw)
    except PermanentError:
        return {"raw": limits.scrub(raw.decode("utf-8", "replace"))}
    return parsed if isinstance(parsed, dict) else {"raw": parsed}


def subscriber_name(dest: str | None) -> str:
    """The Knative Service name of ``knativeerrordest``: the first label of its host
    (``http://run-complete.codex-judge.svc.cluster.local`` → ``run-complete``), so a function's
    own rejection record and the Broker's copy of the same failure share one row."""
    if not dest:
        return "unknown"
    host = urlsplit(dest).hostname or dest
    return host.split(".")[0]


def store(event: Envelope, ctx: Context) -> Outcome:
    """Store the dead-lettered event with the subscriber's error, keyed by the subscriber
    (merged with the row the subscriber wrote itself: :mod:`shared.runtime.dead_letters`)."""
    ext = event.extensions
    code = ext.get("knativeerrorcode")
    body = error_body(ext.get("knativeerrordata"))
    message = body.get("message")
    letter = dead_letters.DeadLetter.of_event(
        subscriber_name(ext.get("knativeerrordest")),
        event.attributes(),
        event.data,
        reason=str(message) if message else None,
        code=int(code) if code and code.isascii() and code.isdigit() and len(code) == 3 else None,
        body=body,
    )
    dead_letters.record(ctx.tx, letter)
    return NoReply("stored")
