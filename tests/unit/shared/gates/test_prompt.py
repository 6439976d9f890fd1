"""The LLM judge's prompt: redaction, fencing, the token budget by priority, sample voting."""

from __future__ import annotations

import json
from pathlib import Path

from shared.gates.llm import LlmVerdict, combine_samples
from shared.gates.prompt import build_messages, estimate_tokens
from shared.gates.redact import redact

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "corpus"
LITE = json.loads((CORPUS / "swe-bench" / "swe-bench-lite-test.5-tasks.swe-agent.json").read_text())


def test_secrets_are_redacted_but_the_setting_name_stays() -> None:
    text = (
        "token = ghp_" + "a" * 36 + "\nAWS AKIAIOSFODNN7EXAMPLE\npassword: hunter2hunter2\n"
        "git clone https://bot:s3cr3tvalue@github.com/o/r\n"
    )
    result = redact(text)
    assert "ghp_" not in result.text and "AKIA" not in result.text
    assert "hunter2" not in result.text and "s3cr3t" not in result.text
    assert "password: [REDACTED:assignment]" in result.text
    assert "https://[REDACTED:url_credentials]@github.com/o/r" in result.text
    assert result.total == 4


def _files(task: dict[str, object], tests: bool = True) -> list[dict[str, object]]:
    files = [{"filename": "src/module.py", "status": "modified", "patch": task["patch"]}]
    if tests:
        files.insert(
            0,
            {"filename": "tests/test_module.py", "status": "modified", "patch": task["test_patch"]},
        )
    files.insert(0, {"filename": "docs/CHANGES.rst", "status": "modified", "patch": "+x\n" * 4000})
    return files


def test_budget_keeps_the_issue_and_source_patch_and_cuts_docs_first() -> None:
    task = LITE[2]  # pytest-dev__pytest-11143: the longest problem statement
    prompt = build_messages(
        run={"notify_payload": {"issue_body": task["problem_statement"]}, "repository": "o/r"},
        pull={"title": "t", "body": "b"},
        files=_files(task),
        ci_summary={"verdict": "success", "failing": []},
        review_summary={"verdict": "approved"},
        token_budget=3000,
    )
    user = prompt.messages[1].content
    assert prompt.estimated_tokens <= 3000 + 100
    assert task["problem_statement"][:200] in user
    assert user.index("--- src/module.py") < user.index("--- tests/test_module.py")
    assert "Diff" in prompt.trimmed
    assert estimate_tokens("abcd" * 10) == 10


def test_unknown_template_version_falls_back_to_v1() -> None:
    prompt = build_messages(
        run={}, pull={}, files=[], ci_summary={}, review_summary={}, template_version="v99"
    )
    assert prompt.template_version == "v1"


def _v(decision: str, confidence: float) -> LlmVerdict:
    return LlmVerdict(
        decision=decision, confidence=confidence, missing_items=[], next_prompt="", reasons=[]
    )


def test_majority_wins_and_disagreement_lowers_confidence() -> None:
    chosen, confidence, abstained = combine_samples(
        [_v("pass", 0.9), _v("fail", 0.8), _v("pass", 0.6)], 0.5
    )
    assert chosen.decision == "pass" and confidence == 0.5 and not abstained


def test_a_tie_or_low_confidence_abstains() -> None:
    assert combine_samples([_v("pass", 0.9), _v("fail", 0.9)], 0.1)[2] is True
    assert combine_samples([_v("pass", 0.4)], 0.6)[2] is True
    assert combine_samples([_v("pass", 0.7)], 0.6)[2] is False
