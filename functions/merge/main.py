"""merge: merges a passed pull request at the judged head SHA, exactly once (DESIGN §4).

Triggered by the events in :data:`ROUTES` (``triggers/merge.yaml``): ``judge.decided`` with
the CloudEvent extension ``decision`` = ``pass``, replied ``io.codexjudge.pr.merged.v1`` (or
``io.codexjudge.run.escalated.v1`` when the run needs a person); and the scheduler's
``timers.due`` with ``timerowner = merge`` (recovery timers of merges whose worker died): the
tick publishes those replies to ``K_SINK`` and answers 202. The use case is
:mod:`functions.merge.usecase`.
"""

from __future__ import annotations

from functions.merge import usecase
from shared import bootstrap
from shared.models.events import JUDGE_DECIDED, TIMERS_DUE
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(exact={JUDGE_DECIDED: usecase.on_decision, TIMERS_DUE: usecase.tick})

handle = cloudevent_function("merge", ROUTES.dispatch, bootstrap.container)
