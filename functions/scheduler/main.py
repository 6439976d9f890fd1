"""scheduler: the one function a PingSource tick wakes (DESIGN §4 "Ticks: only work that is due
wakes a function"; see :mod:`functions.scheduler.usecase`).

Triggered by the events in :data:`ROUTES` (``triggers/scheduler.yaml``: the PingSource tick
only). Publishes one ``io.codexjudge.timers.due.v1`` per timer owner with work (extension
``timerowner``) to ``K_SINK`` and answers 202: it cannot reply several events, and it replies
nothing its own Trigger would match.
"""

from __future__ import annotations

from functions.scheduler.usecase import on_ping
from shared import bootstrap
from shared.models.events import PING_EVENT
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(exact={PING_EVENT: on_ping})

handle = cloudevent_function("scheduler", ROUTES.dispatch, bootstrap.container)
