"""Memory snapshots and the offline hashing embedder: pure rules, no I/O."""

from __future__ import annotations

import json
import math
from typing import Any

from shared.memories.embedder import HASHING_LABEL, HashingEmbedder
from shared.memories.snapshots import (
    KINDS,
    MAX_CONTENT_CHARS,
    build_snapshots,
    metadata,
    namespace,
    tags,
)
from shared.runs import Run
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "corpus"
_TASK = json.loads(
    (CORPUS / "swe-bench" / "swe-bench-dev-easy.pydicom-1458.swe-agent.json").read_text()
)
TASK = _TASK[0] if isinstance(_TASK, list) else next(iter(_TASK.values()))
EVENTS = [
    json.loads(line)
    for line in (CORPUS / "codex-exec" / "failure.vincent.jsonl").read_text().splitlines()
    if line.strip()
]


def _run(**extra: Any) -> Run:
    run = {
        "id": 11,
        "workflow_uid": "uid-11",
        "workflow_name": "codex-run-abc12",
        "namespace": "argo-workflows",
        "repository": "pydicom/pydicom",
        "issue_number": 1458,
        "attempt": 2,
        "status": "needs_iteration",
        "active": False,
        "reason": "ci_failed",
        "phase": "Succeeded",
        "head_sha": "a" * 40,
        "head_ref": "codex/issue-1458",
        "base_ref": "main",
        "pr_number": 1459,
        "pr_url": "https://github.com/pydicom/pydicom/pull/1459",
        "ci_verdict": "failure",
        "ci_summary": {"failing": ["unit-tests"]},
        "review_verdict": "approved",
        "review_summary": {"reviewers": ["chatgpt-codex-connector[bot]"]},
        "notify_payload": {"prompt": TASK["problem_statement"], "summary": "Made it optional"},
        "parameters": {},
    }
    run.update(extra)
    return Run.from_row(run)


EVALUATION = {
    "id": 5,
    "run_id": 11,
    "decision": "needs_iteration",
    "judge_kind": "offline",
    "reasons": [{"code": "ci_failed", "message": "unit-tests failed"}],
    "next_prompt": "Fix unit-tests in pydicom/tests/test_numpy_pixel_data.py.",
    "policy": {"max_attempts": 3},
    "inputs": {"diff_hash": "f" * 64},
    "policy_hash": "e" * 64,
}


def test_an_evaluation_yields_ten_snapshots_in_the_documented_order() -> None:
    messages = [
        {"seq": i, "kind": e.get("type"), "content": json.dumps(e)} for i, e in enumerate(EVENTS)
    ]
    snapshots = build_snapshots(_run(), EVALUATION, messages)

    assert [s.kind for s in snapshots] == list(KINDS) and len(KINDS) == 10
    by_kind = {s.kind: s.content for s in snapshots}
    assert "Pixel Representation" in by_kind["prompt"]
    assert by_kind["next_prompt"] == EVALUATION["next_prompt"]
    assert "- ci_failed: unit-tests failed" in by_kind["reasons"]
    assert "turn.failed" in by_kind["agent_messages"]
    assert "unit-tests" in by_kind["ci_summary"]
    assert "pull/1459" in by_kind["pr_info"]
    decision = json.loads(by_kind["decision"])
    assert decision["policy_hash"] == "e" * 64 and "policy" not in decision


def test_missing_parts_read_na_and_never_drop_a_snapshot() -> None:
    run = _run(notify_payload={}, pr_number=None, pr_url=None, review_summary=None)
    evaluation = {**EVALUATION, "next_prompt": None, "reasons": []}
    by_kind = {s.kind: s.content for s in build_snapshots(run, evaluation, [])}

    assert len(by_kind) == 10
    assert by_kind["prompt"] == by_kind["next_prompt"] == by_kind["log_excerpt"] == "n/a"
    assert by_kind["pr_info"] == "no PR" and by_kind["reasons"] == "no reasons recorded"


def test_log_excerpt_sections_are_read_and_long_logs_keep_their_tail() -> None:
    sections = {"output": "pytest output", "runtime": "node 20", "status": "exit 1"}
    by_kind = {
        s.kind: s.content
        for s in build_snapshots(_run(notify_payload={"log_excerpt": sections}), EVALUATION, [])
    }
    assert "[status]\nexit 1" in by_kind["log_excerpt"]
    assert "[output]\npytest output" in by_kind["log_excerpt"]

    long_log = "start\n" + "x" * (MAX_CONTENT_CHARS * 2) + "\nFAILED test_numpy"
    [log] = [
        s
        for s in build_snapshots(_run(notify_payload={"log_excerpt": long_log}), EVALUATION, [])
        if s.kind == "log_excerpt"
    ]
    assert len(log.content) == MAX_CONTENT_CHARS
    assert log.content.endswith("FAILED test_numpy") and "start" not in log.content


def test_secrets_in_logs_and_prompts_are_redacted_before_storage() -> None:
    token = "ghp_" + "A1b2C3d4E5" * 4
    run = _run(notify_payload={"prompt": f"use {token}", "log_excerpt": f"GITHUB_TOKEN={token}"})
    contents = " ".join(s.content for s in build_snapshots(run, EVALUATION, []))
    assert token not in contents and "REDACTED" in contents


def test_namespace_tags_and_metadata_follow_the_reference() -> None:
    run = _run()
    assert namespace(run) == "codex:pydicom/pydicom:1458"
    assert namespace(_run(repository=None, issue_number=None)) == "codex:unknown:unknown"
    assert tags(run, EVALUATION) == [
        "codex",
        "pydicom/pydicom",
        "issue-1458",
        "workflow-codex-run-abc12",
        "attempt-2",
        "needs_iteration",
        "decision-needs_iteration",
    ]
    meta = metadata(run, EVALUATION, "offline hashing")
    assert meta["run_id"] == 11 and meta["evaluation_id"] == 5
    assert meta["head_sha"] == "a" * 40 and meta["workflow_namespace"] == "argo-workflows"
    assert meta["workflow_uid"] == "uid-11" and meta["embedder_kind"] == "offline hashing"


def test_hashing_embedder_is_deterministic_unit_length_and_labelled() -> None:
    embedder = HashingEmbedder(64)
    first, again, empty = embedder.embed(["CI failed: unit-tests", "CI failed: unit-tests", ""])
    assert first == again and len(first) == 64
    assert math.isclose(math.fsum(x * x for x in first), 1.0)
    assert math.isclose(math.fsum(x * x for x in empty), 1.0)
    assert embedder.label == HASHING_LABEL and "hashing" in embedder.kind


def test_hashing_embedder_ranks_shared_vocabulary_closer() -> None:
    embedder = HashingEmbedder(256)
    query, near, far = embedder.embed(
        [
            "numpy pixel data handler pixel representation",
            "The NumPy pixel data handler requires the Pixel Representation attribute",
            "Discord webhook rate limit retry_after seconds",
        ]
    )

    def cosine(a: list[float], b: list[float]) -> float:
        return math.fsum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(query, near) > cosine(query, far)
