"""The judge's costs per evaluation (issue 4 "Done when"), against a floor measured in the same
run (DESIGN §14: ratios, because absolute figures drift on shared machines).

* **Time in deterministic gates per evaluation**: :func:`deterministic_gates` over the real
  SWE-bench Lite tasks (gold patch + test patch as the PR's files), against the floor of hashing
  the same files once (:func:`diff_hash`, one pass over the same bytes).
* **Model tokens per evaluation**: the prompt the LLM judge would send for each task (issue
  text, patches, summary) at the default policy's token budget, estimated as characters / 4;
  the demo scenario itself runs the offline judge (no endpoint configured), which spends 0.

Run: ``python -m bench.judge`` (prints one JSON object).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.gates.judge import deterministic_gates, diff_hash  # noqa: E402
from shared.gates.prompt import build_messages  # noqa: E402
from shared.models.github import PullFile  # noqa: E402
from shared.policy.model import Policy  # noqa: E402

TASKS = ROOT / "tests/fixtures/corpus/swe-bench/swe-bench-lite-test.5-tasks.swe-agent.json"
ROUNDS = 5
REPEAT = 200


def _files(task: dict[str, Any]) -> list[PullFile]:
    return [
        PullFile(filename="src/change.py", status="modified", patch=task["patch"]),
        PullFile(filename="tests/test_change.py", status="modified", patch=task["test_patch"]),
    ]


def _per_call_us(fn: Any, items: list[Any]) -> float:
    """Median over ROUNDS of the mean microseconds per call of ``fn`` over ``items``."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(REPEAT):
            for item in items:
                fn(item)
        rounds.append((time.perf_counter() - started) / (REPEAT * len(items)) * 1e6)
    return statistics.median(rounds)


def measure() -> dict[str, Any]:
    """Run both measurements; returns the report."""
    tasks = json.loads(TASKS.read_text())
    policy = Policy()
    file_sets = [_files(t) for t in tasks]
    notify = {"summary": "done"}
    floor = _per_call_us(diff_hash, file_sets)
    gates = _per_call_us(lambda files: deterministic_gates(files, notify, policy), file_sets)
    tokens = [
        build_messages(
            run={"notify_payload": {"issue_body": t["problem_statement"], "summary": "done"}},
            pull={"title": t["instance_id"], "body": ""},
            files=[f.model_dump() for f in _files(t)],
            ci_summary={"verdict": "success", "failing": []},
            review_summary={"verdict": "approved"},
            token_budget=policy.token_budget,
        ).estimated_tokens
        for t in tasks
    ]
    return {
        "benchmark": "judge costs per evaluation (SWE-bench Lite tasks as PR content)",
        "evaluations": len(tasks),
        "baseline_diff_hash_us": round(floor, 1),
        "deterministic_gates_us": round(gates, 1),
        "gates_ratio_to_baseline": round(gates / floor, 2),
        "model_input_tokens_per_evaluation_mean": round(statistics.mean(tokens)),
        "model_input_tokens_per_evaluation_max": max(tokens),
        "token_budget": policy.token_budget,
        "demo_scenario_model_tokens": 0,
        "note": "the demo runs the offline judge (no LLM endpoint); tokens are the LLM judge's "
        "prompt for the same evaluations, estimated as characters / 4",
    }


def main() -> int:
    print(json.dumps(measure(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
