"""prompt-tune: repeated failure reasons become one prompt-tuning pull request (DESIGN §4).

Triggered by ``io.codexjudge.judge.decided.v1`` with ``decision`` ``needs_iteration`` or
``needs_human``, and by the scheduler's ``io.codexjudge.timers.due.v1`` with ``timerowner =
prompt-tune`` (recovery timers of proposals whose worker died); replies nothing (202). The use
case is :mod:`functions.prompt_tune.usecase`.
"""

from __future__ import annotations

from functions.prompt_tune.usecase import handle as use_case
from shared.runtime import cloudevent_function

handle = cloudevent_function("prompt-tune", use_case)
