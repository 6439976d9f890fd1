"""``codex-judge explain`` shows each anti-gaming finding with its before/after evidence."""

from __future__ import annotations

from shared.cli.explain import render
from shared.gates.inventory import ChangeSnapshot
from shared.gates.judge import gate_report
from shared.policy.model import Policy
from shared.runs import Run

TEST = "tests/test_cart.py"
BASE = "def test_total():\n    assert total([]) == 0\n    assert total([2]) == 2\n"


def test_explain_prints_findings_with_before_and_after() -> None:
    head = BASE.replace("    assert total([2]) == 2\n", "    # assert total([2]) == 2\n")
    report = gate_report(
        [], {}, Policy(), snapshot=ChangeSnapshot(base={TEST: BASE}, head={TEST: head})
    )
    assert report.verdict is not None
    run = Run(
        id=7,
        repository="acme/shop",
        issue_number=3,
        attempt=1,
        pr_number=9,
        workflow_name="wf",
        workflow_uid="u",
        status="judging",
        active=True,
        reason=None,
        head_sha="a" * 40,
    )
    evaluation = {
        "id": 1,
        "decision": report.verdict.decision,
        "judge_kind": "deterministic",
        "model": None,
        "confidence": None,
        "created_at": "2026-11-29T19:00:00Z",
        "reasons": [r.model_dump() for r in report.verdict.reasons],
        "seal": {},
        "diff_hash": None,
        "diff_source": "worktree",
        "policy_hash": None,
        "prompt_template_version": None,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "model_calls": 0,
        "cost_usd": None,
        "fingerprint": None,
        "fingerprint_parts": [],
        "next_prompt": None,
        "inputs": report.record(),
    }
    text = render(run, evaluation)
    assert "Anti-gaming findings (from inventory):" in text
    assert "  - assert_removed [error] tests/test_cart.py:1: test_total: 1 meaningful" in text
    assert "      before: tests/test_cart.py:1 2 assertion(s)" in text
    assert "      after:  tests/test_cart.py:1 1 assertion(s)" in text
