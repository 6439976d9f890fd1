"""``codex-judge agent-publish``: what an Argo step runs to publish agent messages, so a workflow
template needs nothing else (issue 15).

Two forms: one message (``--kind`` and ``--content``), or a Codex ``exec --json`` stream
(``--codex-jsonl FILE`` or ``-`` for stdin), one message per event with the kind of
:func:`shared.agents.messages.codex_event_kind` and the message id of
:func:`shared.agents.messages.codex_event_message_id` — the ids the backfill from the run's
events uses, so whatever NATS missed is stored later exactly once.

Every publish is a JetStream publish (acknowledged by the stream) with ``Nats-Msg-Id`` set to
``<subject>/<message id>`` (JetStream deduplicates on it stream-wide), retried with exponential
backoff (``attempts`` tries, 0.5 s doubling, capped at 8 s). Publishing never fails the workflow:
when NATS stays unreachable the command reports what it could not publish on stderr and exits 0,
unless ``strict`` asks for exit 1.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.agents.messages import (
    agent_subject,
    codex_event_kind,
    codex_event_message_id,
)
from shared.runs.enrichment import describe_agent_event

log = logging.getLogger("codex_judge.agents.publish")


@dataclass(frozen=True)
class Workflow:
    """Where an agent runs: the Argo workflow's namespace, name and uid, and the agent's id."""

    namespace: str
    name: str
    uid: str
    agent_id: str

    def subject(self, kind: str) -> str:
        """The agent subject for ``kind`` (see :func:`shared.agents.messages.agent_subject`)."""
        return agent_subject(self.namespace, self.name, self.uid, self.agent_id, kind)


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: subject, message id, JSON payload."""

    subject: str
    message_id: str
    payload: dict[str, Any]


def one_message(workflow: Workflow, kind: str, content: str | None, message_id: str) -> Outgoing:
    """A single message of ``kind``."""
    return Outgoing(
        workflow.subject(kind),
        message_id,
        _payload(workflow, kind, content, message_id, {}),
    )


def codex_messages(workflow: Workflow, lines: Iterable[str]) -> Iterator[Outgoing]:
    """One message per JSON object line of a Codex exec stream; other lines are skipped
    (a line index still counts, so ids match the stream's positions)."""
    for index, line in enumerate(lines):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        kind = codex_event_kind(event)
        _, content = describe_agent_event(event)
        message_id = codex_event_message_id(index)
        yield Outgoing(
            workflow.subject(kind),
            message_id,
            _payload(workflow, kind, content, message_id, {"event": event}),
        )


def _payload(
    workflow: Workflow, kind: str, content: str | None, message_id: str, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "kind": kind,
        "content": content,
        "agent_id": workflow.agent_id,
        "workflow_uid": workflow.uid,
        "workflow_name": workflow.name,
        "namespace": workflow.namespace,
        "timestamp": datetime.now(UTC).isoformat(),
        **extra,
    }


async def publish_all(
    url: str, messages: Iterable[Outgoing], *, attempts: int = 5, connect_timeout_s: float = 5.0
) -> list[Outgoing]:
    """Publish ``messages`` in order to JetStream at ``url``; returns those that could not be
    published after ``attempts`` tries each (empty when all were acknowledged)."""
    import nats

    pending = list(messages)
    try:
        nc = await nats.connect(
            url, connect_timeout=connect_timeout_s, max_reconnect_attempts=attempts,
            allow_reconnect=True,
        )  # fmt: skip
    except Exception as exc:
        log.warning("NATS at %s unreachable, %d messages not published: %s", url, len(pending), exc)
        return pending
    failed: list[Outgoing] = []
    try:
        js = nc.jetstream()
        # Pipelined: every publish is sent (in order) before any acknowledgement is awaited;
        # a publish the stream did not acknowledge is retried on its own, with backoff.
        sent = [await js.publish_async(m.subject, _data(m), headers=_headers(m)) for m in pending]
        acks = await asyncio.gather(*sent, return_exceptions=True)
        for message, ack in zip(pending, acks, strict=True):
            if isinstance(ack, BaseException) and not await _retry(js, message, attempts):
                failed.append(message)
    finally:
        await nc.close()
    return failed


def _headers(message: Outgoing) -> dict[str, str]:
    # JetStream deduplicates on Nats-Msg-Id across the whole stream, whatever the subject: the
    # id must name the subject too, or one agent's message 0 would drop every other agent's.
    return {"Nats-Msg-Id": f"{message.subject}/{message.message_id}"}


def _data(message: Outgoing) -> bytes:
    return json.dumps(message.payload, default=str).encode()


async def _retry(js: Any, message: Outgoing, attempts: int) -> bool:
    delay = 0.5
    for attempt in range(1, attempts):
        await asyncio.sleep(delay)
        delay = min(delay * 2, 8.0)
        try:
            await js.publish(message.subject, _data(message), headers=_headers(message))
            return True
        except Exception as exc:
            if attempt == attempts - 1:
                log.warning("not published: %s %s: %s", message.subject, message.message_id, exc)
    return False
