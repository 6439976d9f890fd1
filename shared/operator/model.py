"""The typed shapes of an operator action: what is asked and what is answered.

These pydantic models are the single source of the api's request and response schemas for the
actions (its OpenAPI document is generated from them, ``functions/api/openapi.py``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["approve", "rerun", "cancel", "replay"]
#: What an action came to: done, refused by the run's (or dead letter's) state, or unknown target.
Outcome = Literal["approved", "rerun_requested", "cancelled", "replayed", "refused", "not_found"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApproveRequest(_Frozen):
    """Body of ``POST /api/runs/{run_id}/approve`` (may be empty)."""

    comment: str | None = Field(
        default=None, max_length=2000, description="why; recorded with the actor"
    )


class RerunRequest(_Frozen):
    """Body of ``POST /api/runs/{run_id}/rerun`` (may be empty)."""

    prompt: str | None = Field(
        default=None,
        max_length=20000,
        description="the next prompt; unset → the sealed evaluation's next prompt",
    )
    comment: str | None = Field(default=None, max_length=2000)


class CancelRequest(_Frozen):
    """Body of ``POST /api/runs/{run_id}/cancel`` (may be empty)."""

    comment: str | None = Field(default=None, max_length=2000)


class ReplayRequest(_Frozen):
    """Body of ``POST /api/dead-letters/{dead_letter_id}/replay`` (may be empty)."""

    comment: str | None = Field(default=None, max_length=2000)


class ActionResult(_Frozen):
    """What an operator action did. A duplicate request (same ``Idempotency-Key``) is answered
    with the first request's result and ``duplicate`` true; the action happened once.

    ``status_code`` is the HTTP status the api answers: 200 done, 409 refused by the target's
    state (the message says which state and what was expected), 404 unknown target.
    """

    action_id: int | None = Field(description="codex_judge.operator_actions.id (None: 404)")
    action: Action
    outcome: Outcome
    status_code: int
    message: str
    actor: str
    run_id: int | None = None
    dead_letter_id: int | None = None
    run_status: str | None = Field(default=None, description="the run's status afterwards")
    event_id: str | None = Field(default=None, description="id of the CloudEvent published")
    duplicate: bool = False
