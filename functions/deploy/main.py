"""deploy: get the merge commit running, verify it, revert it when it fails (DESIGN §4).

Triggered by the Broker with ``io.codexjudge.pr.merged.v1`` (from merge),
``io.codexjudge.verification.completed.v1`` (from run-complete, for a workflow labelled
``codex-judge.io/verifies-run``) and the scheduler's ``io.codexjudge.timers.due.v1`` with
``timerowner = deploy``.
Replies ``io.codexjudge.deploy.verified.v1`` / ``io.codexjudge.deploy.failed.v1`` (published to
``K_SINK`` when a tick concludes a deploy) and ``io.codexjudge.run.escalated.v1`` when the
policy asks for a deploy it does not configure.
"""

from __future__ import annotations

from functions.deploy.usecase import handle as deploy
from shared.runtime import cloudevent_function

handle = cloudevent_function("deploy", deploy)
