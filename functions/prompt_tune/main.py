"""prompt-tune: repeated failure reasons become one prompt-tuning pull request (DESIGN §4).

Triggered by ``io.codexjudge.judge.decided.v1`` with ``decision`` ``needs_iteration`` or
``needs_human``; replies nothing (202). The use case is :mod:`functions.prompt_tune.usecase`.
"""

from __future__ import annotations

from functions.prompt_tune.usecase import tune
from shared.runtime import cloudevent_function

handle = cloudevent_function("prompt-tune", tune)
