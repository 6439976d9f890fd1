"""dead-letter: the dead-letter sink of every Trigger and KafkaSource (DESIGN §4).

Knative delivers the failed event unchanged plus the error extensions ``knativeerrordest``
(the subscriber URL), ``knativeerrorcode`` (its last HTTP status) and ``knativeerrordata``
(base64 of its response body, truncated); it comes through the KafkaSink ``dead-letters`` and
the KafkaSource that reads its topic, which delivers the stored CloudEvent as is
(knative/base/dead-letters.yaml). The event is stored once per (subscriber, source, id) for
inspection and replay (DESIGN §6: dead letters are per event *and* subscriber), merged with the
row the subscriber may have written itself when it rejected the event. Answers 202; 503 while
the database is down, so the record waits in Kafka and is redelivered.

The inbox is keyed per failing subscriber (``dead-letter/<subscriber>``), not per event alone:
two subscribers failing the same event are two dead letters, and a duplicate delivery of one of
them is still answered from the inbox.

No route table (:mod:`shared.runtime.routing`): a dead letter keeps the failed event's own type,
which may be any, and no Trigger delivers here (the KafkaSource of the dead-letter topic does).
"""

from __future__ import annotations

from functions.dead_letter.usecase import store, subscriber_name
from shared import bootstrap
from shared.runtime.envelope import Envelope
from shared.runtime.handler import cloudevent_function

CONSUMER = "dead-letter"


def _inbox(event: Envelope) -> str:
    return f"{CONSUMER}/{subscriber_name(event.extensions.get('knativeerrordest'))}"


# Whatever the subscriber refused is stored as it came (data is bytea), so the input limits on
# JSON data do not apply here.
handle = cloudevent_function(CONSUMER, store, bootstrap.container, inbox=_inbox, check=False)
