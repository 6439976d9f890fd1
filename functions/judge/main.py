"""judge: deterministic gates, then the offline or LLM judge; one sealed decision per run
(see :mod:`functions.judge.decide`).

Triggered by ``io.codexjudge.run.completed.v1``, ``io.codexjudge.ci.concluded.v1``,
``io.codexjudge.review.concluded.v1`` and the scheduler's ``io.codexjudge.timers.due.v1`` with
``timerowner = judge`` (:mod:`functions.judge.tick`); replies
``io.codexjudge.judge.decided.v1`` (``io.codexjudge.run.escalated.v1`` when a timer keeps
failing: :func:`shared.reconcile.run_tick`).
"""

from __future__ import annotations

from functions.judge.decide import handle as use_case
from shared.runtime import cloudevent_function

handle = cloudevent_function("judge", use_case)
