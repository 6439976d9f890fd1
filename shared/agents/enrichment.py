"""The enrichment payload a Codex run sends to notify, built from the run's own files (issue
13, "the producing side"; the body :class:`functions.notify.payload.NotifyPayload` reads).

Inputs are the files the Argo step that wraps Codex leaves behind: the ``codex exec --json``
events (JSONL), its logs, the status file, the prompt, the last assistant message, and the
workflow's identity (uid, name, namespace, repository, issue, head, PR). Every file is
optional and bounded: a missing or unreadable file becomes an entry in ``notify_run_errors``,
never an exception, because the step must not fail the workflow it reports on.

Bounds (characters, UTF-8 decoded with replacement): the prompt and last message keep their
head (:data:`TEXT_CHARS`), logs their tail (:data:`LOG_TAIL_CHARS` over all logs, the last
lines being where failures are), events their last :data:`MAX_EVENTS` lines that parse as JSON
objects. Then the whole body is fitted under ``max_bytes`` (notify's ``max_body_bytes`` is
1 MiB by default): the oldest events go first, then the log excerpt's head, then the tails of
the prompt and the summary.

Event format: Codex ``exec --json``; an ``item.completed`` whose ``item.type`` is
``agent_message`` holds the assistant's text (samples in the project's codex-exec corpus).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunFiles", "build_payload", "last_agent_message"]

TEXT_CHARS = 20_000
LOG_TAIL_CHARS = 12_000
MAX_EVENTS = 2_000
_READ_CAP_BYTES = 8 * 1024 * 1024
#: Default body budget: under notify's default ``max_body_bytes`` (1 MiB) with headroom.
MAX_BODY_BYTES = 900_000


@dataclass(frozen=True)
class RunFiles:
    """Where one run's files are, and who the run is (every field optional but the uid).

    Attributes:
        workflow_uid: Argo ``metadata.uid`` (the run's identity in codex-judge).
        identity: the other NotifyPayload fields known to the step (workflow_name, namespace,
            repository, issue_number, pr_number, pr_url, head_sha, head_ref, base_ref).
        events: the ``codex exec --json`` JSONL file.
        logs: log files (implementation, agent, runtime), in the order they are shown.
        status: the status file (JSON object, else kept as text).
        prompt: the prompt file; last_message: the ``--output-last-message`` file.
    """

    workflow_uid: str
    identity: dict[str, Any] = field(default_factory=dict)
    events: Path | None = None
    logs: Sequence[Path] = ()
    status: Path | None = None
    prompt: Path | None = None
    last_message: Path | None = None


def _read(path: Path, errors: list[str], *, tail: bool = False) -> str | None:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            if tail and size > _READ_CAP_BYTES:
                handle.seek(size - _READ_CAP_BYTES)
            data = handle.read(_READ_CAP_BYTES)
    except OSError as exc:
        errors.append(f"{path.name}: {exc.strerror or exc}")
        return None
    return data.decode("utf-8", "replace")


def _events(text: str, errors: list[str], name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(value, dict):
            events.append(value)
    if skipped:
        errors.append(f"{name}: {skipped} line(s) not JSON, skipped")
    return events[-MAX_EVENTS:]


def last_agent_message(events: Sequence[dict[str, Any]]) -> str | None:
    """The text of the last ``agent_message`` item in Codex ``exec --json`` events."""
    for event in reversed(events):
        item = event.get("item")
        if (
            event.get("type") == "item.completed"
            and isinstance(item, dict)
            and item.get("type") == "agent_message"
            and isinstance(item.get("text"), str)
        ):
            return str(item["text"])
    return None


def _size(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode())


def _fit(payload: dict[str, Any], max_bytes: int) -> None:
    events = payload.get("events")
    dropped = 0
    while isinstance(events, list) and events and _size(payload) > max_bytes:
        cut = max(1, len(events) // 4)  # drop the oldest quarter: few re-serialisations
        del events[:cut]
        dropped += cut
    if dropped:
        payload.setdefault("notify_run_errors", []).append(
            f"events: {dropped} oldest event(s) dropped to fit {max_bytes} bytes"
        )
    for key in ("log_excerpt", "prompt", "summary"):
        over = _size(payload) - max_bytes
        text = payload.get(key)
        if over > 0 and isinstance(text, str):
            keep = max(0, len(text) - over - 64)
            payload[key] = text[len(text) - keep :] if key == "log_excerpt" else text[:keep]


def build_payload(files: RunFiles, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The notify body for ``files`` (see the module docstring), at most about ``max_bytes``
    of JSON; never raises for file problems, which are listed under ``notify_run_errors``."""
    errors: list[str] = []
    payload: dict[str, Any] = {"workflow_uid": files.workflow_uid}
    payload |= {k: v for k, v in files.identity.items() if v not in (None, "")}
    events: list[dict[str, Any]] = []
    if files.events is not None and (text := _read(files.events, errors, tail=True)):
        events = _events(text, errors, files.events.name)
        payload["events"] = events
    if files.prompt is not None and (text := _read(files.prompt, errors)):
        payload["prompt"] = text[:TEXT_CHARS]
    message = None
    if files.last_message is not None:
        message = _read(files.last_message, errors)
    message = message or last_agent_message(events)
    if message:
        payload["summary"] = message[:TEXT_CHARS]
    tails = []
    for log in files.logs:
        if (text := _read(log, errors, tail=True)) is not None:
            tails.append(f"==> {log.name} <==\n{text[-LOG_TAIL_CHARS:]}")
    if tails:
        payload["log_excerpt"] = "\n".join(tails)[-LOG_TAIL_CHARS:]
    if files.status is not None and (text := _read(files.status, errors)) is not None:
        try:
            payload["run_status"] = json.loads(text)
        except json.JSONDecodeError:
            payload["run_status"] = text[:TEXT_CHARS]
    if errors:
        payload["notify_run_errors"] = errors
    _fit(payload, max_bytes)
    return payload
