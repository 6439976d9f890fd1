"""The LLM judge's contract: the verdict schema, strict parsing and sample voting
(DESIGN §12.9; issue 4 "The model verdict").

The model answers through OpenAI structured outputs (``response_format`` ``json_schema`` with
``strict: true``); the schema is generated from :class:`LlmVerdict`, and the answer is validated
by the same pydantic model — never parsed with a regex. A refusal, a truncated answer
(``finish_reason`` ``length``) or output that fails validation is an invalid attempt; the caller
retries with a bound and then records ``judge_unavailable``. The prompt itself is built in
:mod:`shared.gates.prompt`.

Self-consistency (policy ``self_consistency_samples``): :func:`combine_samples` takes the
majority decision; its confidence is the majority's mean confidence times the share of samples
that agree, so disagreement lowers it; a tie or a confidence below ``min_confidence`` abstains
(→ needs_human).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.gates.prompt import SYSTEM_PROMPT, build_messages, fence
from shared.ports import ChatResult

__all__ = [
    "SCHEMA_NAME",
    "SYSTEM_PROMPT",
    "LlmVerdict",
    "RequirementCoverage",
    "build_messages",
    "combine_samples",
    "fence",
    "parse_verdict",
    "verdict_schema",
]

SCHEMA_NAME = "judge_verdict"


class RequirementCoverage(BaseModel):
    """One requirement of the issue and whether the change meets it."""

    model_config = ConfigDict(extra="forbid")

    requirement: str
    met: bool
    evidence: str = Field(description="where in the diff (file, function) or why not")


class LlmVerdict(BaseModel):
    """What the model must return.

    Attributes:
        decision: pass (the issue is done), fail (another attempt is needed) or abstain
            (a person must decide).
        confidence: 0.0 to 1.0.
        missing_items: requirements of the issue the change does not meet.
        next_prompt: instructions for the next attempt ("" when passing).
        reasons: short justifications, each one sentence.
        requirements: coverage of each requirement the model found in the issue.
        suggested_fixes: concrete changes that would complete the issue.
        prompt_tuning_suggestions: changes to the agent's prompt template that would have
            avoided this failure (evidence for prompt-tune).
        system_suggestions: changes to the system around the agent (tools, CI, policy).
    """

    model_config = ConfigDict(extra="forbid")

    decision: Literal["pass", "fail", "abstain"]
    confidence: float = Field(ge=0.0, le=1.0)
    missing_items: list[str]
    next_prompt: str
    reasons: list[str]
    requirements: list[RequirementCoverage] = Field(default_factory=list)
    suggested_fixes: list[str] = Field(default_factory=list)
    prompt_tuning_suggestions: list[str] = Field(default_factory=list)
    system_suggestions: list[str] = Field(default_factory=list)


def verdict_schema() -> dict[str, Any]:
    """The strict JSON Schema of :class:`LlmVerdict` for structured outputs.

    Strict mode requires every property listed in ``required`` and ``additionalProperties``
    false, and does not accept numeric bounds, so those are checked by pydantic afterwards
    (OpenAI "Structured Outputs": supported schemas).
    """
    schema: dict[str, Any] = _strict(LlmVerdict.model_json_schema())
    return schema


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        out = {
            k: _strict(v)
            for k, v in node.items()
            if k not in ("minimum", "maximum", "default", "title")
        }
        if out.get("type") == "object" and "properties" in out:
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def parse_verdict(result: ChatResult) -> LlmVerdict | str:
    """The validated verdict, or why this attempt is invalid (refusal, length, bad JSON)."""
    if result.refusal:
        return f"refusal: {result.refusal[:200]}"
    if result.finish_reason == "length":
        return "truncated: finish_reason length"
    if not result.content:
        return f"empty content (finish_reason {result.finish_reason})"
    try:
        return LlmVerdict.model_validate_json(result.content)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        return f"invalid output at {where}: {first['msg']}"


def combine_samples(
    samples: Sequence[LlmVerdict], min_confidence: float
) -> tuple[LlmVerdict, float, bool]:
    """Vote over valid samples.

    Args:
        samples: at least one valid verdict.
        min_confidence: the policy threshold (0..1).

    Returns:
        ``(representative, confidence, abstained)``: the first sample of the majority decision,
        the combined confidence, and whether the vote abstains (a tie, an ``abstain`` majority
        or a confidence below ``min_confidence``).
    """
    counts = Counter(s.decision for s in samples)
    ranked = counts.most_common()
    decision, votes = ranked[0]
    tie = len(ranked) > 1 and ranked[1][1] == votes
    majority = [s for s in samples if s.decision == decision]
    confidence = sum(s.confidence for s in majority) / len(majority) * votes / len(samples)
    abstained = tie or decision == "abstain" or confidence < min_confidence
    return majority[0], round(confidence, 4), abstained
