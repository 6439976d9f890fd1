"""ci-status: the CI verdict for a run's exact head SHA (see :mod:`functions.ci_status.verdicts`).

Triggered by ``io.codexjudge.run.completed.v1`` and ``com.github.check_run.*``,
``com.github.check_suite.*``, ``com.github.status``, ``com.github.workflow_run.*``,
``com.github.pull_request.synchronize`` and the scheduler's ``io.codexjudge.timers.due.v1`` with
``timerowner = ci-status`` (:mod:`functions.ci_status.tick`); replies
``io.codexjudge.ci.concluded.v1``, or ``io.codexjudge.run.escalated.v1`` when GitHub no longer
knows the repository or commit or a timer keeps failing (neither matches its own Triggers).
"""

from __future__ import annotations

from functions.ci_status.verdicts import handle as use_case
from shared.runtime import cloudevent_function

handle = cloudevent_function("ci-status", use_case)
