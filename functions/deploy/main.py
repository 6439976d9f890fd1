"""deploy: get the merge commit running, verify it, revert it when it fails (DESIGN §4).

Triggered by the events in :data:`ROUTES` (``triggers/deploy.yaml``): ``pr.merged`` (from
merge), ``verification.completed`` (from run-complete, for a workflow labelled
``codex-judge.io/verifies-run``) and the scheduler's ``timers.due`` with ``timerowner =
deploy``. Replies ``io.codexjudge.deploy.verified.v1`` / ``io.codexjudge.deploy.failed.v1``
(published to ``K_SINK`` when a tick concludes a deploy) and ``io.codexjudge.run.escalated.v1``
when the policy asks for a deploy it does not configure. Any other type is acknowledged (202),
as in every function (:mod:`shared.runtime.routing`).
"""

from __future__ import annotations

from functions.deploy import usecase
from shared import bootstrap
from shared.models.events import PR_MERGED, TIMERS_DUE, VERIFICATION_COMPLETED
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(
    exact={
        PR_MERGED: usecase.on_merged,
        VERIFICATION_COMPLETED: usecase.on_verification,
        TIMERS_DUE: usecase.on_tick,
    },
)

handle = cloudevent_function("deploy", ROUTES.dispatch, bootstrap.container)
