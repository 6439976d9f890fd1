"""discord: posts decisions to Discord, one message per (run, decision) (DESIGN §4).

Triggered by ``io.codexjudge.judge.decided.v1``. Answers 202 (no reply event); a Discord 429
answers 429 with ``Retry-After`` so Knative redelivers later. The use case is
:mod:`functions.discord.notify`.
"""

from __future__ import annotations

from functions.discord.notify import post_decision
from shared.runtime import cloudevent_function

handle = cloudevent_function("discord", post_decision)
