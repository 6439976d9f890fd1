"""Backfill: agent messages from the run's own Codex events (the ``codex exec --json`` stream
carried as an artifact) when NATS missed them (issue 15; DESIGN §4 run-complete).

Each event becomes the message ``codex-judge agent-publish --codex-jsonl`` would have published
for it — same subject (the run's namespace, workflow name and uid, the agent id the Codex step
publishes as, the event's kind) and same message id (its line in the stream) — so the store's
dedupe key leaves every message NATS delivered as it is and adds only the missing ones, with
``origin = 'artifact'``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from shared.agents.messages import to_row
from shared.agents.publisher import Workflow, codex_messages
from shared.agents.store import insert_rows
from shared.db import Tx
from shared.runs.model import Run

log = logging.getLogger("codex_judge.agents.backfill")


def backfill(tx: Tx, run: Run, lines: Sequence[str], agent_id: str) -> int:
    """Store the messages of ``lines`` (one Codex event per line) for ``run``'s agent
    ``agent_id`` that are not stored yet; returns how many were new.

    A run without namespace or workflow name, or whose names cannot be NATS subject tokens
    (a ``.`` in a workflow name), has no subject to store them under: nothing is stored and
    the reason is logged.
    """
    if not (run.namespace and run.workflow_name):
        log.warning("run %s has no namespace or workflow name: no backfill", run.id)
        return 0
    workflow = Workflow(run.namespace, run.workflow_name, run.workflow_uid, agent_id)
    try:
        messages = list(codex_messages(workflow, lines))
    except ValueError as exc:
        log.warning("run %s: no agent subject for its workflow (%s): no backfill", run.id, exc)
        return 0
    rows = [
        to_row(message.subject, json.dumps(message.payload).encode(), {}, None)
        for message in messages
    ]
    return insert_rows(tx, rows, "artifact")
