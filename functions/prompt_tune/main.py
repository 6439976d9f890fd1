"""prompt-tune: repeated failure reasons become one prompt-tuning pull request (DESIGN §4).

Triggered by the events in :data:`ROUTES` (``triggers/prompt-tune.yaml``): ``judge.decided``
with ``decision`` ``needs_iteration`` or ``needs_human``, and the scheduler's ``timers.due``
with ``timerowner = prompt-tune`` (recovery timers of proposals whose worker died); replies
nothing (202). The use case is :mod:`functions.prompt_tune.usecase`.
"""

from __future__ import annotations

from functions.prompt_tune import usecase
from shared import bootstrap
from shared.models.events import JUDGE_DECIDED, TIMERS_DUE
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(exact={JUDGE_DECIDED: usecase.tune, TIMERS_DUE: usecase.tick})

handle = cloudevent_function("prompt-tune", ROUTES.dispatch, bootstrap.container)
