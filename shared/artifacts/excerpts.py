"""Log evidence for the judge: bounded, redacted excerpts of a run's own artifacts, each naming
the artifact and file it came from.

What is taken, per unpacked file (:mod:`shared.artifacts.unpack`):

* a Codex ``exec --json`` event stream (JSON Lines whose objects carry ``type``; the schema of
  ``tests/fixtures/corpus/codex-exec``): the **last assistant message** (the last
  ``item.completed`` whose item is an ``agent_message``) and the errors of ``error`` /
  ``turn.failed`` events;
* any other text: Python **tracebacks** (``Traceback (most recent call last):`` through the
  exception line), **failing tests** (pytest's ``FAILED <nodeid>`` summary lines, Go's
  ``--- FAIL:``) and **patch-apply failures** (the lines the deterministic patch gate reads,
  :func:`shared.gates.judge.patch_failures`).

Every excerpt goes through :func:`shared.gates.redact.redact` before it is kept (DESIGN §11), is
cut to ``max_chars_each`` characters, and the excerpts of one artifact stop at
``max_total_chars`` (a character budget: roughly four characters per model token).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.artifacts.unpack import Unpacked
from shared.gates.judge import patch_failures
from shared.gates.redact import redact

ExcerptKind = Literal[
    "last_assistant_message", "agent_error", "traceback", "failing_test", "patch_apply_failure"
]
_TRACEBACK_START = "Traceback (most recent call last):"
_FAILING_TEST = re.compile(r"^(?:FAILED \S+|--- FAIL: \S+)")
_CUT = " … (cut)"


class Excerpt(BaseModel):
    """One piece of log evidence.

    Attributes:
        kind: see :data:`ExcerptKind`.
        artifact: the recorded artifact name it came from (``codex-events``).
        path: the file inside the artifact (``events.jsonl``, ``main-logs``).
        text: the redacted, bounded text.
        redactions: how many secrets were replaced in it.
    """

    model_config = ConfigDict(frozen=True)

    kind: ExcerptKind
    artifact: str
    path: str
    text: str
    redactions: int = 0

    def label(self) -> str:
        """``<artifact>/<path> (<kind>)``: where an explanation says the excerpt came from."""
        return f"{self.artifact}/{self.path} ({self.kind})"


def excerpts(
    artifact: str,
    unpacked: Unpacked,
    *,
    max_chars_each: int = 2000,
    max_total_chars: int = 8000,
) -> list[Excerpt]:
    """The excerpts of one artifact's files (module docstring), in file order, within budget."""
    found: list[Excerpt] = []
    used = 0
    for entry in unpacked.files:
        text = entry.content.decode("utf-8", errors="replace")
        pieces = _events(text) if is_event_stream(text) else _log(text)
        for kind, raw in pieces:
            cleaned = redact(raw.strip())
            body = cleaned.text
            if len(body) > max_chars_each:
                body = body[: max_chars_each - len(_CUT)] + _CUT
            if not body or used + len(body) > max_total_chars:
                return found
            used += len(body)
            found.append(
                Excerpt(
                    kind=kind,
                    artifact=artifact,
                    path=entry.path,
                    text=body,
                    redactions=cleaned.total,
                )
            )
    return found


def is_event_stream(text: str) -> bool:
    """Whether ``text`` is a Codex ``exec --json`` stream (its first line an object with a
    ``type``)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        event = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(event, dict) and "type" in event


def _events(text: str) -> Iterator[tuple[ExcerptKind, str]]:
    last_message: str | None = None
    for line in text.splitlines():
        try:
            event: Any = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        item = event.get("item")
        if (
            event.get("type") == "item.completed"
            and isinstance(item, dict)
            and item.get("type") == "agent_message"
            and item.get("text")
        ):
            last_message = str(item["text"])
        elif event.get("type") in ("error", "turn.failed"):
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else event.get("message")
            if message:
                yield "agent_error", str(message)
    if last_message:
        yield "last_assistant_message", last_message


def _log(text: str) -> Iterator[tuple[ExcerptKind, str]]:
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == _TRACEBACK_START:
            end = index + 1
            while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end]):
                end += 1
            yield "traceback", "\n".join(lines[index : end + 1])
            index = end + 1
            continue
        index += 1
    failing = [line.strip() for line in lines if _FAILING_TEST.match(line.strip())]
    if failing:
        yield "failing_test", "\n".join(failing[:20])
    patches = patch_failures(text)
    if patches:
        yield "patch_apply_failure", "\n".join(patches)
