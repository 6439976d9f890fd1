"""rerun: attempt cap, durable backoff, one submission per attempt (DESIGN §4, issue 5).

Triggered by ``io.codexjudge.judge.decided.v1`` with ``decision = needs_iteration`` and by the
scheduler's ``io.codexjudge.timers.due.v1`` with ``timerowner = rerun``. Replies
``io.codexjudge.rerun.submitted.v1`` or ``io.codexjudge.run.escalated.v1``; ticks publish those
to ``K_SINK`` and answer 202. The use case is :mod:`functions.rerun.usecase`.
"""

from __future__ import annotations

from functions.rerun.usecase import handle_event
from shared.runtime import cloudevent_function

handle = cloudevent_function("rerun", handle_event)
