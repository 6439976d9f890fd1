"""merge: merges a passed pull request at the judged head SHA, exactly once (DESIGN §4).

Triggered by ``io.codexjudge.judge.decided.v1`` with the CloudEvent extension ``decision`` =
``pass``; replies ``io.codexjudge.pr.merged.v1`` (or ``io.codexjudge.run.escalated.v1`` when
the run needs a person). Also triggered by the scheduler's ``io.codexjudge.timers.due.v1``
with ``timerowner = merge`` (recovery timers of merges whose worker died): the tick publishes
those replies to ``K_SINK`` and answers 202. The use case is :mod:`functions.merge.usecase`.
"""

from __future__ import annotations

from functions.merge.usecase import handle as use_case
from shared.runtime import cloudevent_function

handle = cloudevent_function("merge", use_case)
