"""ci-status: the CI verdict for a run's exact head SHA (see :mod:`functions.ci_status.usecase`).

Triggered by the events in :data:`ROUTES` (``triggers/ci-status.yaml``; the scheduler's
``timers.due`` with ``timerowner = ci-status``); replies ``io.codexjudge.ci.concluded.v1``, or
``io.codexjudge.run.escalated.v1`` when GitHub no longer knows the repository or commit or a
timer keeps failing (neither matches its own Triggers).
"""

from __future__ import annotations

from functions.ci_status import tick, usecase
from shared import bootstrap
from shared.models.events import RUN_COMPLETED, TIMERS_DUE
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(
    exact={
        RUN_COMPLETED: usecase.on_run_completed,
        TIMERS_DUE: tick.handle,  # durable waits: timeouts and reconcile
        "com.github.status": usecase.on_check_event,  # commit statuses have no action
        "com.github.pull_request.synchronize": usecase.on_synchronize,
    },
    prefix={
        "com.github.check_run.": usecase.on_check_event,
        "com.github.check_suite.": usecase.on_check_event,
        "com.github.workflow_run.": usecase.on_check_event,
    },
)

handle = cloudevent_function("ci-status", ROUTES.dispatch, bootstrap.container)
