"""scheduler: the one function a PingSource tick wakes (DESIGN §4 "Ticks: only work that is due
wakes a function"; see :mod:`functions.scheduler.usecase`).

Triggered by ``dev.knative.sources.ping`` only. Publishes one ``io.codexjudge.timers.due.v1``
per timer owner with work (extension ``timerowner``) to ``K_SINK`` and answers 202: it cannot
reply several events, and it replies nothing its own Trigger would match.
"""

from __future__ import annotations

from functions.scheduler.usecase import handle as use_case
from shared.runtime import cloudevent_function

handle = cloudevent_function("scheduler", use_case)
