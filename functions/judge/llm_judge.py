"""The LLM judge: structured output, strict validation, bounded retries (DESIGN §12.9).

Reached only when every deterministic gate, CI, the review and mergeability passed, so the
model can only confirm a pass or send the run back; it can never override a gate. An invalid
attempt (refusal, ``finish_reason`` length, output failing :class:`LlmVerdict`) is retried up to
``llm_max_attempts``; then the run goes to a person as ``judge_unavailable`` with every
attempt's failure recorded. Transport failures (5xx, 429) propagate as transient errors, so
Knative redelivers the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.gates.judge import Verdict
from shared.gates.llm import SCHEMA_NAME, LlmVerdict, build_messages, parse_verdict, verdict_schema
from shared.models.events import Reason
from shared.ports import LanguageModel


def llm_verdict(
    llm: LanguageModel,
    *,
    max_attempts: int,
    run: Mapping[str, Any],
    pull: Mapping[str, Any],
    files: list[Mapping[str, Any]],
    ci_summary: Mapping[str, Any],
    review_summary: Mapping[str, Any],
) -> Verdict:
    """Ask the model, validate, retry; map pass/fail/abstain to pass/needs_iteration/needs_human.
    ``Verdict.extra`` carries ``attempt_errors`` and the model name for the evaluation inputs."""
    messages = build_messages(
        run=run, pull=pull, files=files, ci_summary=ci_summary, review_summary=review_summary
    )
    schema = verdict_schema()
    errors: list[str] = []
    model: str | None = None
    for _ in range(max_attempts):
        result = llm.complete_json(messages, schema_name=SCHEMA_NAME, schema=schema)
        model = result.model or model
        parsed = parse_verdict(result)
        if isinstance(parsed, LlmVerdict):
            return _map(parsed, model, errors)
        errors.append(parsed)
    return Verdict(
        "needs_human",
        [
            Reason(
                code="judge_unavailable",
                message=f"no valid verdict after {max_attempts} attempt(s): " + "; ".join(errors),
            )
        ],
        judge_kind="llm",
        model=model,
        extra={"attempt_errors": errors},
    )


def _map(parsed: LlmVerdict, model: str | None, errors: list[str]) -> Verdict:
    extra = {"attempt_errors": errors, "missing_items": parsed.missing_items}
    reasons = [Reason(code=f"llm_{parsed.decision}", message=r) for r in parsed.reasons] or [
        Reason(code=f"llm_{parsed.decision}", message=f"the model answered {parsed.decision}")
    ]
    if parsed.decision == "pass":
        return Verdict("pass", reasons, None, "llm", model, parsed.confidence, extra)
    if parsed.decision == "abstain":
        return Verdict(
            "needs_human",
            [Reason(code="judge_abstained", message="the model abstained"), *reasons],
            None,
            "llm",
            model,
            parsed.confidence,
            extra,
        )
    prompt = parsed.next_prompt.strip()
    if parsed.missing_items:
        prompt += "\n\nMissing:\n" + "\n".join(f"- {item}" for item in parsed.missing_items)
    return Verdict(
        "needs_iteration",
        [
            Reason(
                code="requirements_missing",
                message="; ".join(parsed.missing_items) or "the model found the issue unfinished",
            ),
            *reasons,
        ],
        prompt.strip() or None,
        "llm",
        model,
        parsed.confidence,
        extra,
    )
