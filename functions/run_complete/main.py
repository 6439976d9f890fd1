"""run-complete: every Argo completion turned into a run, none dropped (DESIGN §3, §4).

Triggered by the Broker with what the KafkaSource ``argo-workflow-completions`` read from
topic ``argo.workflows.completions``: type ``dev.knative.kafka.event``, id
``partition:N/offset:M``, data = the raw record bytes, often without a Content-Type. Also
accepts the same data in any CloudEvent (binary or structured). Replies
``io.codexjudge.run.completed.v1``; a workflow still running answers 202; a record that is not
a workflow answers 422 naming the field and is dead-lettered.

No route table (:mod:`shared.runtime.routing`): the data, not the type, says what a record is; the
Trigger selects the KafkaSource by type *and* source, and an Argo completion arriving in any
other CloudEvent is handled the same (``tests/unit/functions/test_routes.py`` lists it as
type-agnostic).
"""

from __future__ import annotations

from functions.run_complete.usecase import complete
from shared import bootstrap
from shared.runtime.handler import cloudevent_function

handle = cloudevent_function("run-complete", complete, bootstrap.container)
