"""review-gate: the AI-review verdict at a run's head SHA
(see :mod:`functions.review_gate.verdicts`).

Triggered by ``io.codexjudge.run.completed.v1`` and ``com.github.pull_request.*``,
``com.github.pull_request_review.*``, ``com.github.pull_request_review_thread.*``,
``com.github.pull_request_review_comment.*``, ``com.github.issue_comment.*`` and the scheduler's
``io.codexjudge.timers.due.v1`` with ``timerowner = review-gate``
(:mod:`functions.review_gate.tick`); replies ``io.codexjudge.review.concluded.v1``, or
``io.codexjudge.run.escalated.v1`` when GitHub no longer knows the PR or a timer keeps failing.
"""

from __future__ import annotations

from functions.review_gate.verdicts import handle as use_case
from shared.runtime import cloudevent_function

handle = cloudevent_function("review-gate", use_case)
