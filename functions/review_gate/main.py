"""review-gate: the AI-review verdict at a run's head SHA
(see :mod:`functions.review_gate.usecase`).

Triggered by the events in :data:`ROUTES` (``triggers/review-gate.yaml``; the scheduler's
``timers.due`` with ``timerowner = review-gate``); replies
``io.codexjudge.review.concluded.v1``, or ``io.codexjudge.run.escalated.v1`` when GitHub no
longer knows the PR or a timer keeps failing.
"""

from __future__ import annotations

from functions.review_gate import tick, usecase
from shared import bootstrap
from shared.models.events import RUN_COMPLETED, TIMERS_DUE
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(
    exact={
        RUN_COMPLETED: usecase.on_run_completed,
        TIMERS_DUE: tick.handle,  # durable waits: timeouts and reconcile
    },
    prefix={
        "com.github.pull_request.": usecase.on_github_event,
        "com.github.pull_request_review.": usecase.on_github_event,
        "com.github.pull_request_review_thread.": usecase.on_github_event,
        "com.github.pull_request_review_comment.": usecase.on_github_event,
        "com.github.issue_comment.": usecase.on_github_event,
    },
)

handle = cloudevent_function("review-gate", ROUTES.dispatch, bootstrap.container)
