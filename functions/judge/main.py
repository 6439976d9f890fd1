"""judge: deterministic gates, then the offline or LLM judge; one sealed decision per run
(see :mod:`functions.judge.usecase`).

Triggered by the events in :data:`ROUTES` (``triggers/judge.yaml``; the scheduler's
``timers.due`` with ``timerowner = judge``); replies ``io.codexjudge.judge.decided.v1``
(``io.codexjudge.run.escalated.v1`` when a timer keeps failing:
:func:`shared.waits.reconcile.run_tick`).
"""

from __future__ import annotations

from functions.judge import tick, usecase
from shared import bootstrap
from shared.models.events import CI_CONCLUDED, REVIEW_CONCLUDED, RUN_COMPLETED, TIMERS_DUE
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(
    exact={
        RUN_COMPLETED: usecase.on_run_completed,
        CI_CONCLUDED: usecase.on_ci_concluded,
        REVIEW_CONCLUDED: usecase.on_review_concluded,
        TIMERS_DUE: tick.handle,  # mergeable_state re-polls
    },
)

handle = cloudevent_function("judge", ROUTES.dispatch, bootstrap.container)
