"""memories: ten memory snapshots per evaluation, embedded into pgvector (DESIGN §4).

Triggered by the events in :data:`ROUTES` (``triggers/memories.yaml``: every
``judge.decided``). Answers 202 (no reply event); a failing embeddings endpoint answers 503
(429 when rate limited) so Knative redelivers. The use case is :mod:`functions.memories.usecase`.
"""

from __future__ import annotations

from functions.memories.usecase import remember_decision
from shared import bootstrap
from shared.models.events import JUDGE_DECIDED
from shared.runtime.handler import cloudevent_function
from shared.runtime.routing import Routes

ROUTES = Routes(exact={JUDGE_DECIDED: remember_decision})

handle = cloudevent_function("memories", ROUTES.dispatch, bootstrap.container)
