"""discord: posts decisions to Discord, one message per (run, decision) (DESIGN §4).

Triggered by the events in :data:`ROUTES` (``triggers/discord.yaml``): the notices, and the
scheduler's ``timers.due`` with ``timerowner = discord`` (recovery timers of notices whose
worker died). Answers 202 (no reply event); a Discord 429 answers 429 with ``Retry-After`` so
Knative redelivers later. The use case is :mod:`functions.discord.usecase`, which renders each
notice type.
"""

from __future__ import annotations

from functions.discord import usecase
from shared import bootstrap
from shared.models.events import (
    DEPLOY_FAILED,
    DEPLOY_VERIFIED,
    JUDGE_DECIDED,
    PR_MERGED,
    RUN_ESCALATED,
    TIMERS_DUE,
)
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(
    exact={
        JUDGE_DECIDED: usecase.post_decision,
        PR_MERGED: usecase.post_decision,
        DEPLOY_VERIFIED: usecase.post_decision,
        DEPLOY_FAILED: usecase.post_decision,
        RUN_ESCALATED: usecase.post_decision,
        TIMERS_DUE: usecase.tick,
    },
)

handle = cloudevent_function("discord", ROUTES.dispatch, bootstrap.container)
