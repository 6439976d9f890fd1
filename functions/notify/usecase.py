"""notify's use case: attach the wrapper's payload to its run (DESIGN §4).

The payload is merged into ``runs.notify_payload`` with jsonb ``||``; when notify arrives
before run-complete, the run is created as ``notified`` and run-complete fills it in later.
Codex exec events in the payload are stored as agent messages right away (run-complete does the
same for events that arrived before the completion).
"""

from __future__ import annotations

from functions.notify.payload import NotifyPayload
from shared import runs
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome


def attach(event: Envelope, ctx: Context) -> Outcome:
    """Merge one notify payload into its run.

    Raises:
        InvalidDataError: the body is not JSON or fails :class:`NotifyPayload` (422).
    """
    payload = event.model(NotifyPayload)
    run = runs.record_notify(ctx.tx, payload.workflow_uid, payload.stored())
    stored = 0
    if payload.events:
        stored = runs.record_agent_messages(ctx.tx, run.id, payload.events)
    return NoReply(
        f"notify merged into run {run.id} ({run.status}); {stored} agent events offered",
        run_id=run.id,
    )
