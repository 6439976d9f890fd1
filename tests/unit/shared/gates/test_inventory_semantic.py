"""The semantic questions (issue 11): where the two inventories show the shape of a gaming kind
no parser settles, a ``question_*`` warning is raised; the LLM judge's rubric asks them and the
offline judge reports them."""

from __future__ import annotations

from shared.gates.inventory import QUESTIONS, ChangeSnapshot, inventory_questions
from shared.gates.judge import gate_report, offline_verdict
from shared.gates.prompt import build_messages
from shared.models.github import PullFile
from shared.policy.model import Policy

SRC = "src/shop/price.py"
TEST = "tests/test_price.py"
SRC_BASE = "def price(sku):\n    return lookup(sku) * 2\n"
TEST_BASE = "def test_price():\n    assert price('SKU-41') == 84\n"


def _codes(base: dict[str, str], head: dict[str, str]) -> list[str]:
    return [q.code for q in inventory_questions(ChangeSnapshot(base=base, head=head))]


def test_a_source_line_that_recognises_a_test_input_is_a_question() -> None:
    base = {SRC: SRC_BASE, TEST: TEST_BASE}
    special = SRC_BASE.replace(
        "def price(sku):\n", "def price(sku):\n    if sku == 'SKU-41':\n        return 84\n"
    )
    assert _codes(base, {SRC: special, TEST: TEST_BASE}) == []  # the test did not change
    new_test = TEST_BASE + "\n\ndef test_other():\n    assert price('SKU-77') == 10\n"
    special_new = special.replace("'SKU-41'", "'SKU-77'")
    assert _codes(base, {SRC: special_new, TEST: new_test}) == ["question_input_special_cased"]
    fixed = SRC_BASE.replace("* 2", "* 2 + 0")
    assert _codes(base, {SRC: fixed, TEST: new_test}) == []


def test_a_test_that_starts_mocking_while_the_source_changes_is_a_question() -> None:
    base = {SRC: SRC_BASE, TEST: TEST_BASE}
    mocked = (
        "from unittest.mock import patch\n\n\ndef test_price():\n"
        "    with patch('shop.price.lookup', return_value=42):\n"
        "        assert price('SKU-41') == 84\n"
    )
    fixed = SRC_BASE.replace("* 2", "* 2 + 0")
    assert _codes(base, {SRC: fixed, TEST: mocked}) == ["question_unit_mocked"]
    assert _codes(base, {SRC: SRC_BASE, TEST: mocked}) == []  # no code under change


def test_expected_values_changed_without_a_source_change_is_a_question() -> None:
    base = {SRC: SRC_BASE, TEST: TEST_BASE}
    edited = TEST_BASE.replace("== 84", "== 85")
    questions = inventory_questions(ChangeSnapshot(base=base, head={SRC: SRC_BASE, TEST: edited}))
    assert [(q.code, q.file, q.line, q.severity) for q in questions] == [
        ("question_expected_changed", TEST, 1, "warning")
    ]
    assert questions[0].before is not None and "84" in questions[0].before
    fixed = SRC_BASE.replace("* 2", "* 2 + 1")
    assert _codes(base, {SRC: fixed, TEST: edited}) == []


def test_questions_decide_nothing_and_reach_both_judges() -> None:
    base = {SRC: SRC_BASE, TEST: TEST_BASE}
    head = {SRC: SRC_BASE, TEST: TEST_BASE.replace("== 84", "== 85")}
    files = [PullFile(filename=TEST, status="modified", additions=1, deletions=1, patch="@@")]
    report = gate_report(files, {}, Policy(), snapshot=ChangeSnapshot(base=base, head=head))
    assert report.verdict is None
    assert [q.code for q in report.questions] == ["question_expected_changed"]
    assert report.record()["gate_questions"][0]["code"] == "question_expected_changed"
    verdict = offline_verdict({"checks": [{}]}, "approved", report.questions)
    assert verdict.decision == "pass"
    assert [r.code for r in verdict.reasons] == ["offline_pass", "question_expected_changed"]
    assert f"{TEST}:1" in verdict.reasons[1].message
    assert verdict.extra["warnings"][0]["code"] == "question_expected_changed"
    prompt = build_messages(
        run={}, pull={}, files=[], ci_summary={}, review_summary={}, questions=report.questions
    )
    assert prompt.template_version == "v2"
    system, user = prompt.messages[0].content, prompt.messages[1].content
    assert all(q in system for q in QUESTIONS.values())
    assert f"{TEST}:1 test_price: {QUESTIONS['question_expected_changed']}" in user
    v1 = build_messages(
        run={}, pull={}, files=[], ci_summary={}, review_summary={}, template_version="v1"
    )
    assert not any(q in v1.messages[0].content for q in QUESTIONS.values())
