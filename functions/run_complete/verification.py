"""Post-deploy verification workflows seen by run-complete (issue 5, "deploy").

The deploy function submits the verification WorkflowTemplate with the label
``codex-judge.io/verifies-run: "<run_id>"``. Its completion reaches run-complete like any Argo
workflow, but it is **not** a new run: run-complete answers
``io.codexjudge.verification.completed.v1`` instead, which the deploy Trigger routes to deploy.
Nothing is written to ``codex_judge.runs``.

The reply key is ``verification:<uid>:<phase>:<finishedAt>``, so Argo's repeated UPDATE events
for one finished workflow yield one reply id and downstream inboxes drop the copies.
"""

from __future__ import annotations

from typing import Any

from shared.argo import WorkflowCompletion
from shared.argo.decode import load_document, locate_workflow
from shared.argo.workflow import failed_steps
from shared.errors import InvalidDataError
from shared.models.events import (
    VERIFICATION_COMPLETED,
    VERIFIES_RUN_LABEL,
    VerificationCompleted,
)
from shared.runtime.outcomes import Reply


def verified_run_id(completion: WorkflowCompletion) -> int | None:
    """The run id a verification workflow verifies, or None for an ordinary workflow.

    Raises:
        InvalidDataError: the label is present but not a positive integer (422, naming it).
    """
    raw = completion.labels.get(VERIFIES_RUN_LABEL)
    if raw is None:
        return None
    field = f'data.metadata.labels["{VERIFIES_RUN_LABEL}"]'
    try:
        run_id = int(raw.strip())
    except ValueError:
        run_id = 0
    if run_id <= 0:
        raise InvalidDataError(
            f"{field}: expected a run id (a positive integer), got {raw!r}", field=field
        )
    return run_id


def _workflow_object(data: bytes) -> dict[str, Any]:
    """The Workflow object inside the record (its ``status.nodes`` name the failed tests)."""
    doc = load_document(data)
    if isinstance(doc, str):
        doc = load_document(doc)
    return locate_workflow(doc).workflow


def verification_reply(completion: WorkflowCompletion, run_id: int, data: bytes) -> Reply:
    """The ``verification.completed`` reply for a finished verification workflow.

    Args:
        completion: the parsed completion (Succeeded, Failed or Error).
        run_id: the label's run id (:func:`verified_run_id`).
        data: the raw record, read again for ``status.nodes``.
    """
    failed = failed_steps(_workflow_object(data)) if completion.phase != "Succeeded" else []
    payload = VerificationCompleted(
        run_id=run_id,
        workflow_uid=completion.uid,
        workflow_name=completion.name,
        namespace=completion.namespace,
        phase=completion.phase,
        finished_at=completion.finished_at or None,
        message=completion.message,
        revision=completion.parameters.get("revision"),
        failed_steps=failed,
    )
    return Reply(
        type=VERIFICATION_COMPLETED,
        data=payload,
        key=f"verification:{completion.completion_key}",
        subject=completion.uid,
        run_id=run_id,
    )
