"""A function's route table: CloudEvent types mapped to their handlers (DESIGN §4; gidgethub's
``Router``, cosmic's ``EVENT_HANDLERS``).

Keys mirror the Knative Trigger filter dialects a Trigger selects types with (Knative Eventing
"Trigger filters": ``exact`` and ``prefix`` on the ``type`` attribute), so a function's table
can be compared with its Trigger (``tests/unit/functions/test_routes.py``):

* ``exact`` — the whole type, e.g. ``io.codexjudge.run.completed.v1``;
* ``prefix`` — a type's leading part, e.g. ``com.github.check_run.`` (every action).

Lookup: an exact key first, else the longest matching prefix. Other attributes a Trigger
filters on (``timerowner``, ``decision``) narrow what reaches the function but add no type, so
they have no place here.

One rule for a type the table lacks, the same in every function: the event is acknowledged
with HTTP 202 and nothing else (:class:`~shared.runtime.outcomes.NoReply` whose note names the
type).
The Broker only delivers what the Trigger admits, so such an event is a Trigger edited without
the table (or a manual POST); refusing it with a 4xx would send a harmless event to the
dead-letter sink, and a 5xx would make Knative retry something that can never succeed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, Handler, NoReply, Outcome

__all__ = ["Routes", "ignored"]


def ignored(event_type: str) -> NoReply:
    """The answer to a type no route names: 202 with a note naming ``event_type``."""
    return NoReply(f"ignored event type {event_type}")


@dataclass(frozen=True)
class Routes:
    """The event → handler table of one function.

    Attributes:
        exact: whole CloudEvent types → handler.
        prefix: type prefixes (non-empty) → handler; the longest matching prefix wins.

    Raises:
        ValueError: an empty prefix (it would swallow every type, unknown ones included).
    """

    exact: Mapping[str, Handler] = field(default_factory=dict)
    prefix: Mapping[str, Handler] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "" in self.prefix:
            raise ValueError("prefix: an empty prefix matches every type; name the types")

    def handler_for(self, event_type: str) -> Handler | None:
        """The handler of ``event_type``: its exact key, else its longest prefix; else None."""
        handler = self.exact.get(event_type)
        if handler is not None:
            return handler
        matching = [p for p in self.prefix if event_type.startswith(p)]
        return self.prefix[max(matching, key=len)] if matching else None

    def dispatch(self, event: Envelope, ctx: Context) -> Outcome:
        """Run the handler of ``event.type``; a type without one is :func:`ignored` (202).

        Raises:
            Whatever the handler raises (the runtime maps it to the delivery contract).
        """
        handler = self.handler_for(event.type)
        if handler is None:
            return ignored(event.type)
        return handler(event, ctx)

    def keys(self) -> tuple[frozenset[str], frozenset[str]]:
        """``(exact types, prefixes)`` this table routes, to compare with a Trigger."""
        return frozenset(self.exact), frozenset(self.prefix)
