"""rerun: attempt cap, durable backoff, one submission per attempt (DESIGN §4, issue 5).

Triggered by the events in :data:`ROUTES` (``triggers/rerun.yaml``): ``judge.decided`` with
``decision = needs_iteration``, and the scheduler's ``timers.due`` with ``timerowner = rerun``.
Replies ``io.codexjudge.rerun.submitted.v1`` or ``io.codexjudge.run.escalated.v1``; ticks
publish those to ``K_SINK`` and answer 202. The use case is :mod:`functions.rerun.usecase`.
"""

from __future__ import annotations

from functions.rerun import usecase
from shared import bootstrap
from shared.models.events import JUDGE_DECIDED, TIMERS_DUE
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(exact={JUDGE_DECIDED: usecase.on_decision, TIMERS_DUE: usecase.on_tick})

handle = cloudevent_function("rerun", ROUTES.dispatch, bootstrap.container)
