"""What a use case answers, and what it is given: the outcome types of the delivery contract
(DESIGN §6), with no HTTP in them.

A use case is a :data:`Handler`, ``handler(event, ctx) -> Outcome``:

* :class:`Reply` → HTTP 200 with a binary-mode CloudEvent (the Broker routes it on);
* :class:`NoReply` → HTTP 202 with an empty body ("nothing to say").

The HTTP side (:mod:`shared.runtime.handler`) and the inbox (:mod:`shared.runtime.inbox`) turn
them into answers; a use case imports only this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.db import Tx
from shared.runtime.envelope import Envelope

if TYPE_CHECKING:
    from shared.bootstrap import Container

__all__ = ["Context", "Handler", "NoReply", "Outcome", "Reply"]


@dataclass(frozen=True)
class Reply:
    """Answer with a CloudEvent. ``key`` makes the reply id deterministic: the same fact
    replied twice has the same id, so downstream inboxes drop the copy."""

    type: str
    data: BaseModel | dict[str, Any]
    key: str
    subject: str | None = None
    run_id: int | None = None


@dataclass(frozen=True)
class NoReply:
    """Nothing to say (HTTP 202). ``note`` explains why, for logs and tests."""

    note: str = ""
    run_id: int | None = None


Outcome = Reply | NoReply


@dataclass
class Context:
    """What a use case gets: the open transaction, the dependencies and a bound logger.

    Attributes:
        tx: the transaction the inbox row was claimed in; the use case's writes join it.
        deps: the process's container (ports, settings, database).
        consumer: the inbox consumer, the Knative Service name (``run-complete``).
        log: a logger bound to the function and the event's id, type and source.
        extensions_out: CloudEvent extensions to add to the reply (name → string value).
    """

    tx: Tx
    deps: Container
    consumer: str
    log: logging.LoggerAdapter[logging.Logger]
    extensions_out: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Envelope, Context], Outcome]
