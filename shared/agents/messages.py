"""Agent messages on NATS JetStream: the subjects, the payload model, and how one JetStream
message becomes a row (issue 15).

Subjects (stream ``agent-comms``, subjects ``argo.workflow.>``)::

    argo.workflow.<namespace>.<workflow>.<workflow uid>.agent.<agent id>.<kind>   (one agent)
    argo.workflow.general.<kind>                                        (the general channel)

``kind`` is one NATS token (``status``, ``message``, ``tool_call``, ``tool_result``, ``error``,
…). The payload is a JSON object, :class:`AgentMessage`: snake_case fields, with the camelCase
duplicates real publishers send (``messageId``, ``agentId``, ``workflowUid``, …) accepted; when
both spellings are present the snake_case one wins. A message without content is kept (a status
change or a tool call may carry only metadata).

Identity: ``dedupe_key = <subject> + "\\n" + <message id>``. The message id is the payload's,
else the ``Nats-Msg-Id`` header (JetStream's own publish deduplication id), else the stream
sequence — so a redelivered or re-published message is stored once, and the same message
backfilled from the run's events carries the same key (:func:`codex_event_message_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from shared.errors import PermanentError
from shared.runtime import limits

STREAM = "agent-comms"
SUBJECT_PREFIX = "argo.workflow"
STREAM_SUBJECTS = (f"{SUBJECT_PREFIX}.>",)
GENERAL = "general"
#: Longest content stored per message (characters); longer content is cut and marked.
MAX_CONTENT_CHARS = 64_000


class MalformedMessageError(PermanentError):
    """A JetStream message that can never be stored: its subject is not an agent subject, or its
    payload is not a JSON object matching :class:`AgentMessage`. It is dead-lettered and acked,
    never redelivered."""


@dataclass(frozen=True)
class Subject:
    """A parsed agent subject. ``channel`` is ``run`` (one agent of a workflow) or ``general``."""

    subject: str
    channel: str
    kind: str
    namespace: str | None = None
    workflow_name: str | None = None
    workflow_uid: str | None = None
    agent_id: str | None = None


def parse_subject(subject: str) -> Subject:
    """Split an agent subject into its parts.

    Raises:
        MalformedMessageError: the subject has neither shape of the module docstring.
    """
    tokens = subject.split(".")
    if tokens[:2] == SUBJECT_PREFIX.split(".") and all(tokens):
        if len(tokens) == 4 and tokens[2] == GENERAL:
            return Subject(subject, GENERAL, tokens[3])
        if len(tokens) == 8 and tokens[5] == "agent":
            return Subject(
                subject,
                "run",
                tokens[7],
                namespace=tokens[2],
                workflow_name=tokens[3],
                workflow_uid=tokens[4],
                agent_id=tokens[6],
            )
    raise MalformedMessageError(
        f"subject {subject!r} is neither argo.workflow.<namespace>.<workflow>.<uid>.agent."
        "<agent id>.<kind> nor argo.workflow.general.<kind>"
    )


def agent_subject(namespace: str, workflow: str, uid: str, agent_id: str, kind: str) -> str:
    """The subject one agent of a workflow publishes ``kind`` on.

    Raises:
        ValueError: a part is empty or holds a character NATS reserves in subject tokens
            (``.``, ``*``, ``>``, whitespace).
    """
    parts = (namespace, workflow, uid, agent_id, kind)
    for part in parts:
        if not part or any(c in part for c in ".*> \t\r\n"):
            raise ValueError(f"subject token {part!r} is empty or holds . * > or whitespace")
    return f"{SUBJECT_PREFIX}.{namespace}.{workflow}.{uid}.agent.{agent_id}.{kind}"


def _either(snake: str, camel: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(snake, camel))


class AgentMessage(BaseModel):
    """The payload of an agent message (JSON object). Every field is optional; unknown fields
    are kept in the stored payload but not interpreted."""

    model_config = ConfigDict(extra="allow", frozen=True)

    message_id: str | None = _either("message_id", "messageId")
    kind: str | None = _either("kind", "type")
    content: str | None = _either("content", "text")
    agent_id: str | None = _either("agent_id", "agentId")
    workflow_uid: str | None = _either("workflow_uid", "workflowUid")
    workflow_name: str | None = _either("workflow_name", "workflowName")
    namespace: str | None = None
    role: str | None = None
    tool_name: str | None = _either("tool_name", "toolName")
    timestamp: datetime | None = _either("timestamp", "sentAt")


@dataclass(frozen=True)
class Row:
    """One ``workflow_comms.agent_messages`` row to insert."""

    dedupe_key: str
    subject: str
    message_id: str
    channel: str
    kind: str
    content: str | None
    workflow_uid: str | None
    agent_id: str | None
    sent_at: datetime | None
    payload: dict[str, Any]


def to_row(
    subject: str, data: bytes, headers: Mapping[str, str] | None, stream_seq: int | None
) -> Row:
    """The row for one JetStream message (its subject, raw payload, headers and stream sequence).

    Raises:
        MalformedMessageError: see the class; the message names what is wrong.
    """
    where = parse_subject(subject)
    try:
        document = limits.loads(data, field="payload")
    except PermanentError as exc:
        raise MalformedMessageError(f"payload of {subject}: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedMessageError(
            f"payload of {subject} is a JSON {type(document).__name__}, expected an object"
        )
    try:
        message = AgentMessage.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "payload"
        raise MalformedMessageError(f"payload of {subject}: {field}: {first['msg']}") from exc
    message_id = (
        message.message_id
        or (headers or {}).get("Nats-Msg-Id")
        or (f"seq:{stream_seq}" if stream_seq is not None else None)
    )
    if not message_id:
        raise MalformedMessageError(f"message on {subject} has no message id and no sequence")
    content = message.content
    if content is not None and len(content) > MAX_CONTENT_CHARS:
        content = content[:MAX_CONTENT_CHARS] + "\n[… cut]"
    return Row(
        dedupe_key=f"{subject}\n{message_id}",
        subject=subject,
        message_id=message_id,
        channel=where.channel,
        kind=where.kind,
        content=content,
        workflow_uid=where.workflow_uid,
        agent_id=where.agent_id,
        sent_at=message.timestamp,
        payload=document,
    )


def codex_event_kind(event: Mapping[str, Any]) -> str:
    """The agent-message kind of one Codex ``exec --json`` event (corpus/codex-exec):
    ``agent_message`` → ``message``, ``command_execution``/``mcp_tool_call`` items → ``tool_call``
    while started and ``tool_result`` when completed, ``error`` items and ``turn.failed`` →
    ``error``, everything else (threads, turns, reasoning, usage) → ``status``."""
    kind = str(event.get("type") or "")
    item = event.get("item")
    item_type = str(item.get("type") or "") if isinstance(item, Mapping) else ""
    if kind == "error" or item_type == "error" or kind == "turn.failed":
        return "error"
    if item_type == "agent_message":
        return "message"
    if item_type in {"command_execution", "mcp_tool_call", "web_search", "file_change"}:
        return "tool_result" if kind == "item.completed" else "tool_call"
    return "status"


def codex_event_message_id(line: int) -> str:
    """The message id of the Codex event on ``line`` (0-based) of an agent's exec stream: the
    same whether the event was published live or backfilled from the run's events."""
    return f"codex-exec:{line}"
