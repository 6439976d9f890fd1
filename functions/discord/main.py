"""discord: posts decisions to Discord, one message per (run, decision) (DESIGN §4).

Triggered by ``io.codexjudge.judge.decided.v1``, ``pr.merged``, ``deploy.verified``/``failed``,
``run.escalated`` and the scheduler's ``io.codexjudge.timers.due.v1`` with ``timerowner =
discord`` (recovery timers of notices whose worker died). Answers 202 (no reply event); a
Discord 429 answers 429 with ``Retry-After`` so Knative redelivers later. The use case is
:mod:`functions.discord.notify`.
"""

from __future__ import annotations

from functions.discord.notify import handle as use_case
from shared.runtime import cloudevent_function

handle = cloudevent_function("discord", use_case)
