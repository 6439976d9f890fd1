"""The JSON api's table of contents: every endpoint as an :class:`Operation` (the source of the
OpenAPI document) mapped to its handler.

Reads need a token of either scope; actions (approve, rerun, cancel, replay) an operator token
and go through :func:`shared.operator.actions.act`, the command line's code path too. A request
without ``Idempotency-Key`` gets a fresh key (it is not deduplicated; the compare-and-set still
refuses a second approval of the same run).
"""

from __future__ import annotations

import uuid
from typing import Any

import flask
from pydantic import BaseModel

from functions.api import reads
from functions.api.agents import OPENAPI_PATH, PATH
from functions.api.app import CONSUMER, ApiError, Call, json_answer, json_endpoint
from functions.api.models import (
    Health,
    IssueQuery,
    IssueReport,
    RunDetail,
    RunPage,
    RunQuery,
)
from functions.api.openapi import Operation, document
from functions.api.policies import PolicyView, policy_findings, policy_view
from functions.api.pulls import PullDetail, pull_detail
from shared.operator.actions import ActionRequest, act
from shared.operator.dead_letters import DeadLetterPage, DeadLetterQuery, list_dead_letters
from shared.operator.findings import FindingsPage, FindingsQuery
from shared.operator.model import (
    Action,
    ActionResult,
    ApproveRequest,
    CancelRequest,
    ReplayRequest,
    RerunRequest,
)

RUN_ID = {"run_id": "the run's id (codex_judge.runs.id)"}
DEAD_LETTER_ID = {"dead_letter_id": "the dead letter's id (runtime.dead_letters.id)"}
MAX_KEY = 200


def _runs(call: Call) -> BaseModel:
    with call.deps.db.transaction() as tx:
        return reads.list_runs(tx, call.query)


def _run(call: Call) -> BaseModel:
    with call.deps.db.transaction() as tx:
        detail = reads.run_detail(tx, call.path["run_id"])
    if detail is None:
        raise ApiError(404, f"no run with id {call.path['run_id']}", field="run_id")
    return detail


def _dead_letters(call: Call) -> BaseModel:
    with call.deps.db.transaction() as tx:
        return list_dead_letters(tx, call.query)


def _issues(call: Call) -> BaseModel:
    with call.deps.db.transaction() as tx:
        return reads.issue_report(tx, call.query)


def _pull(call: Call) -> BaseModel:
    repository = f"{call.path['owner']}/{call.path['repo']}"
    with call.deps.db.transaction() as tx:
        detail = pull_detail(tx, repository, call.path["number"])
    if detail is None:
        raise ApiError(
            404, f"nothing is known of {repository}#{call.path['number']}", field="number"
        )
    return detail


def _policy(call: Call) -> BaseModel:
    repository = f"{call.path['owner']}/{call.path['repo']}"
    with call.deps.db.transaction() as tx:
        return policy_view(tx, call.deps.settings, repository)


def _policy_findings(call: Call) -> BaseModel:
    repository = f"{call.path['owner']}/{call.path['repo']}"
    with call.deps.db.transaction() as tx:
        return policy_findings(tx, call.deps.settings, repository, call.query)


def perform(call: Call, action: Action, target: int) -> tuple[int, ActionResult]:
    """Run ``action`` on ``target`` for the caller; the HTTP status and the result."""
    key = call.idempotency_key or f"api:{uuid.uuid4()}"
    if len(key) > MAX_KEY or not key.isprintable():
        raise ApiError(
            400, f"Idempotency-Key: at most {MAX_KEY} printable characters", field="Idempotency-Key"
        )
    body: dict[str, Any] = call.body.model_dump(exclude_none=True) if call.body else {}
    request = ActionRequest(
        action=action, target=target, actor=call.principal.actor, key=key, body=body
    )
    result = act(call.deps.db, call.deps.settings, request)
    return result.status_code, result


def _action(action: Action, param: str) -> Any:
    def handler(call: Call) -> tuple[int, BaseModel]:
        return perform(call, action, call.path[param])

    return handler


def _run_action(
    action: Action, operation_id: str, summary: str, body: type[BaseModel]
) -> tuple[Operation, Any]:
    """A run action's operation and handler: ``POST /api/runs/{run_id}/<action>`` with an
    operator token, answered by :func:`perform` (404: no such run; 409: the run's status
    refuses the action)."""
    return (
        Operation(
            "post",
            f"/api/runs/{{run_id}}/{action}",
            operation_id,
            summary,
            ActionResult,
            body=body,
            path_params=RUN_ID,
            scope="operator",
            errors=(400, 403, 404, 409, 422),
            results=(404, 409),
        ),
        _action(action, "run_id"),
    )


OPERATIONS: list[tuple[Operation, Any]] = [
    (
        Operation(
            "get",
            "/api/runs",
            "listRuns",
            "Runs, newest first, filtered and paginated",
            RunPage,
            query=RunQuery,
        ),
        _runs,
    ),
    (
        Operation(
            "get",
            "/api/runs/{run_id}",
            "getRun",
            "One run: evaluations, sealed record, artifacts, effects, timers, timeline",
            RunDetail,
            path_params=RUN_ID,
            errors=(404,),
        ),
        _run,
    ),
    (
        Operation(
            "get",
            "/api/issues",
            "listIssues",
            "Per-issue summaries and stats",
            IssueReport,
            query=IssueQuery,
        ),
        _issues,
    ),
    (
        Operation(
            "get",
            "/api/github/pulls/{owner}/{repo}/{number}",
            "getPull",
            "One pull request: state, judge runs, checks by commit (newest first), threads,"
            " reviews",
            PullDetail,
            path_params={"number": "the pull request number"},
            path_names={"owner": "repository owner", "repo": "repository name"},
            errors=(404,),
        ),
        _pull,
    ),
    (
        Operation(
            "get",
            "/api/policies/{owner}/{repo}",
            "getPolicy",
            "The effective policy of a repository, its hash, layers and version history",
            PolicyView,
            path_names={"owner": "repository owner", "repo": "repository name"},
            errors=(422,),
        ),
        _policy,
    ),
    (
        Operation(
            "get",
            "/api/policies/{owner}/{repo}/findings",
            "listPolicyFindings",
            "The gate findings and warnings recorded in a repository's evaluations, newest"
            " first, each with the policy hash it was judged under",
            FindingsPage,
            query=FindingsQuery,
            path_names={"owner": "repository owner", "repo": "repository name"},
            errors=(400, 422),
        ),
        _policy_findings,
    ),
    (
        Operation(
            "get",
            "/api/dead-letters",
            "listDeadLetters",
            "Dead letters with Knative's error extensions",
            DeadLetterPage,
            query=DeadLetterQuery,
        ),
        _dead_letters,
    ),
    _run_action(
        "approve",
        "approveRun",
        "Approve a needs_human run: merge takes it on at the judged SHA",
        ApproveRequest,
    ),
    _run_action(
        "rerun",
        "rerunRun",
        "Request a rerun of a needs_human run, or of a needs_iteration run with no rerun"
        " planned (attempt cap and backoff apply)",
        RerunRequest,
    ),
    _run_action(
        "cancel", "cancelRun", "Cancel a run nothing external is in flight for", CancelRequest
    ),
    (
        Operation(
            "post",
            "/api/dead-letters/{dead_letter_id}/replay",
            "replayDeadLetter",
            "Post a dead letter to the Broker again",
            ActionResult,
            body=ReplayRequest,
            path_params=DEAD_LETTER_ID,
            scope="operator",
            errors=(400, 403, 404, 422),
            results=(404,),
        ),
        _action("replay", "dead_letter_id"),
    ),
]
PUBLIC = [
    Operation("get", "/healthz", "health", "Readiness (no token)", Health, scope=None),
    Operation("get", "/openapi.json", "openapi", "This document (no token)", Health, scope=None),
]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every operation."""
    doc = document([*PUBLIC, *(op for op, _ in OPERATIONS)])
    # /openapi.json answers the document itself, not a model of it.
    doc["paths"]["/openapi.json"]["get"]["responses"]["200"]["content"] = {
        "application/json": {"schema": {"type": "object"}}
    }
    doc["paths"][PATH] = OPENAPI_PATH
    return doc


def _flask_path(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def register(app: flask.Flask) -> None:
    """Add every operation, ``/healthz`` and ``/openapi.json`` to ``app``."""
    for op, handler in OPERATIONS:
        app.add_url_rule(
            _flask_path(op.path),
            endpoint=op.operation_id,
            view_func=json_endpoint(
                names=tuple(op.path_names),
                scope=op.scope,
                query=op.query,
                body=op.body,
                handler=handler,
            ),
            methods=[op.method.upper()],
        )

    @app.get("/healthz")
    def health() -> flask.Response:
        return json_answer(200, Health(function=CONSUMER, ready=True))

    @app.get("/openapi.json")
    def openapi() -> flask.Response:
        return json_answer(200, openapi_document())
