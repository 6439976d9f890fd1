"""The LLM judge: structured output, strict validation, bounded retries, self-consistency, token
accounting (DESIGN §12.9; issue 4 "The model verdict").

Reached only when every deterministic gate, CI, the review and mergeability passed, so the
model can only confirm a pass or send the run back; it can never override a gate.

Each of ``samples`` samples gets up to ``max_attempts`` calls:

* an invalid answer (refusal, ``finish_reason`` length, output failing :class:`LlmVerdict`)
  is retried at once;
* 429 and 5xx/timeouts are retried after ``min(Retry-After, retry_wait_cap_s)`` seconds;
* any other 4xx (a bad model name, say) is not retried.

When no sample is valid the run goes to a person as ``judge_unavailable`` with every failure
recorded. Before each call the daily ceiling is checked: when the repository's tokens today
plus this prompt's estimate would pass it, no call is made and the reason is
``daily_token_ceiling``. The samples are combined by :func:`combine_samples`; an abstention
or low confidence is ``needs_human``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.errors import CodexJudgeError, PermanentError, RateLimitedError
from shared.gates.antigaming import Finding
from shared.gates.judge import Verdict
from shared.gates.llm import (
    SCHEMA_NAME,
    LlmVerdict,
    build_messages,
    combine_samples,
    parse_verdict,
    verdict_schema,
)
from shared.gates.prompt import estimate_tokens
from shared.models.events import Reason
from shared.ports import LanguageModel


@dataclass(frozen=True)
class JudgeConfig:
    """The knobs of one LLM judgement (policy and settings).

    Attributes:
        max_attempts: calls per sample (settings ``llm_max_attempts``).
        samples: self-consistency samples (policy ``self_consistency_samples``).
        min_confidence: below it the verdict abstains (policy).
        token_budget: input tokens per prompt (policy).
        model: policy ``judge_model``; None uses the configured model.
        template_version: policy ``prompt_template_version``.
        tokens_left_today: the repository's remaining daily tokens; None = unlimited.
        input_cost_per_mtok / output_cost_per_mtok: USD per million tokens.
        retry_wait_cap_s: longest wait before retrying a 429/5xx (seconds).
    """

    max_attempts: int = 3
    samples: int = 1
    min_confidence: float = 0.6
    token_budget: int = 24_000
    model: str | None = None
    template_version: str = "v2"
    tokens_left_today: int | None = None
    input_cost_per_mtok: float = 0.0
    output_cost_per_mtok: float = 0.0
    retry_wait_cap_s: float = 2.0


@dataclass
class Usage:
    """Tokens and calls spent by one evaluation."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    def add(self, usage: Mapping[str, Any]) -> None:
        self.calls += 1
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def cost(self, config: JudgeConfig) -> float:
        return round(
            self.prompt_tokens * config.input_cost_per_mtok / 1e6
            + self.completion_tokens * config.output_cost_per_mtok / 1e6,
            6,
        )


@dataclass
class _Attempts:
    errors: list[str] = field(default_factory=list)
    model: str | None = None
    stopped: str | None = None  # daily_token_ceiling | upstream_rejected


def llm_verdict(
    llm: LanguageModel,
    config: JudgeConfig,
    *,
    run: Mapping[str, Any],
    pull: Mapping[str, Any],
    files: list[Mapping[str, Any]],
    ci_summary: Mapping[str, Any],
    review_summary: Mapping[str, Any],
    questions: Sequence[Finding] = (),
    sleep: Any = time.sleep,
) -> Verdict:
    """Ask the model (``config.samples`` times), validate, retry, vote.

    Returns:
        pass / needs_iteration / needs_human with ``judge_kind`` llm. ``Verdict.extra`` holds
        ``usage`` ({prompt_tokens, completion_tokens, calls, cost_usd}), ``attempt_errors``,
        ``prompt`` ({template_version, estimated_tokens, trimmed, redactions}), ``samples``
        (each sample's decision and confidence) and the model's suggestions.
    """
    prompt = build_messages(
        run=run,
        pull=pull,
        files=files,
        ci_summary=ci_summary,
        review_summary=review_summary,
        token_budget=config.token_budget,
        template_version=config.template_version,
        questions=questions,
    )
    schema = verdict_schema()
    usage = Usage()
    state = _Attempts()
    valid: list[LlmVerdict] = []
    for _ in range(config.samples):
        sample = _one_sample(llm, config, prompt.messages, schema, usage, state, sleep)
        if sample is not None:
            valid.append(sample)
        if state.stopped:
            break
    extra: dict[str, Any] = {
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "calls": usage.calls,
            "cost_usd": usage.cost(config),
        },
        "attempt_errors": state.errors,
        "prompt": {
            "template_version": prompt.template_version,
            "estimated_tokens": prompt.estimated_tokens,
            "trimmed": prompt.trimmed,
            "redactions": prompt.redactions,
        },
        "samples": [{"decision": s.decision, "confidence": s.confidence} for s in valid],
    }
    if not valid:
        code = "daily_token_ceiling" if state.stopped == "daily_token_ceiling" else None
        message = (
            "the repository's daily token ceiling is reached; no model call was made"
            if code
            else f"no valid verdict after {usage.calls} call(s): " + "; ".join(state.errors)
        )
        return Verdict(
            "needs_human",
            [Reason(code=code or "judge_unavailable", message=message)],
            judge_kind="llm",
            model=state.model or config.model,
            extra=extra,
        )
    chosen, confidence, abstained = combine_samples(valid, config.min_confidence)
    return _map(chosen, confidence, abstained, state.model, extra)


def _one_sample(
    llm: LanguageModel,
    config: JudgeConfig,
    messages: Any,
    schema: dict[str, Any],
    usage: Usage,
    state: _Attempts,
    sleep: Any,
) -> LlmVerdict | None:
    estimate = sum(estimate_tokens(m.content) for m in messages)
    for _ in range(config.max_attempts):
        if config.tokens_left_today is not None and (
            usage.total + estimate > config.tokens_left_today
        ):
            state.stopped = "daily_token_ceiling"
            return None
        try:
            result = llm.complete_json(
                messages, schema_name=SCHEMA_NAME, schema=schema, model=config.model
            )
        except PermanentError as exc:
            state.errors.append(f"rejected: {exc.message}")
            state.stopped = "upstream_rejected"
            return None
        except CodexJudgeError as exc:  # transient: 429, 5xx, timeout
            state.errors.append(f"{type(exc).__name__}: {exc.message}")
            wait = exc.retry_after if isinstance(exc, RateLimitedError) else 1.0
            sleep(min(wait, config.retry_wait_cap_s))
            continue
        usage.add(result.usage)
        state.model = result.model or state.model
        parsed = parse_verdict(result)
        if isinstance(parsed, LlmVerdict):
            return parsed
        state.errors.append(parsed)
    return None


def _map(
    parsed: LlmVerdict,
    confidence: float,
    abstained: bool,
    model: str | None,
    extra: dict[str, Any],
) -> Verdict:
    extra = {
        **extra,
        "missing_items": parsed.missing_items,
        "requirements": [r.model_dump() for r in parsed.requirements],
        "suggested_fixes": parsed.suggested_fixes,
        "prompt_tuning_suggestions": parsed.prompt_tuning_suggestions,
        "system_suggestions": parsed.system_suggestions,
    }
    reasons = [Reason(code=f"llm_{parsed.decision}", message=r) for r in parsed.reasons] or [
        Reason(code=f"llm_{parsed.decision}", message=f"the model answered {parsed.decision}")
    ]
    if abstained:
        why = (
            "the model abstained"
            if parsed.decision == "abstain"
            else f"the verdict's confidence {confidence} is below the policy's minimum, or the "
            "samples disagreed"
        )
        return Verdict(
            "needs_human",
            [Reason(code="judge_abstained", message=why), *reasons],
            None,
            "llm",
            model,
            confidence,
            extra,
        )
    if parsed.decision == "pass":
        return Verdict("pass", reasons, None, "llm", model, confidence, extra)
    prompt = parsed.next_prompt.strip()
    if parsed.missing_items:
        prompt += "\n\nMissing:\n" + "\n".join(f"- {item}" for item in parsed.missing_items)
    if parsed.suggested_fixes:
        prompt += "\n\nSuggested fixes:\n" + "\n".join(f"- {f}" for f in parsed.suggested_fixes)
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
        confidence,
        extra,
    )
