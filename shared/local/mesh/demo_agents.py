"""The demo's agent messages: the recorded Codex exec streams published to NATS as the Argo
steps would (``codex-judge agent-publish``)."""

from __future__ import annotations

from typing import Any

from shared.local.mesh.demo_actions import CORPUS
from shared.local.mesh.demo_artifacts import EVENTS


def agent_messages(records: list[dict[str, Any]], *, missed: str | None = None) -> list[Any]:
    """The recorded Codex exec streams (corpus ``codex-exec``), one per scenario workflow, as
    the messages ``codex-judge agent-publish --codex-jsonl`` sends for them, plus one message on
    the general channel. The workflow whose uid is ``missed`` publishes only the first two
    events of the stream its events artifact holds (:data:`demo_artifacts.EVENTS`): NATS
    "missed" the rest, which run-complete backfills from the artifact."""
    from shared.agents.messages import SUBJECT_PREFIX
    from shared.agents.publisher import Outgoing, Workflow, codex_messages

    streams = sorted((CORPUS / "codex-exec").glob("*.jsonl"))
    out: list[Any] = []
    for record, path in zip(records, streams, strict=False):
        value = record["value"]
        workflow = Workflow(value["namespace"], value["workflowName"], value["uid"], "codex")
        if value["uid"] == missed:
            out += codex_messages(workflow, EVENTS.read_text().splitlines()[:2])
        else:
            out += codex_messages(workflow, path.read_text().splitlines())
    general = {"message_id": "demo-hello", "kind": "status", "content": "demo started"}
    out.append(Outgoing(f"{SUBJECT_PREFIX}.general.status", "demo-hello", general))
    return out
