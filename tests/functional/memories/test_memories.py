"""memories over real HTTP: real Postgres with pgvector, the offline hashing embedder and the
fake OpenAI-compatible /v1/embeddings (its deterministic answers and recorded OpenAI bodies).

The run carries real inputs: a SWE-bench task's problem statement as the prompt and a recorded
``codex exec --json`` stream as agent messages and log excerpt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes import openai as fake_openai
from shared.local.fakes.base import ServedFake, serve_fake
from shared.memories.embedder import HASHING_LABEL, HashingEmbedder
from shared.memories.store import MemoryDimensionError, recall, remember
from shared.models.events import JUDGE_DECIDED
from shared.runs.enrichment import record_agent_messages
from tests.conftest import FIXTURES
from tests.contract import corpus

CORPUS = FIXTURES / "corpus"
_TASK = json.loads(
    (CORPUS / "swe-bench" / "swe-bench-dev-easy.pydicom-1458.swe-agent.json").read_text()
)
TASK = _TASK[0] if isinstance(_TASK, list) else next(iter(_TASK.values()))
EXEC_LOG = (CORPUS / "codex-exec" / "failure.vincent.jsonl").read_text()
EVENTS = [json.loads(line) for line in EXEC_LOG.splitlines() if line.strip()]
REPO = "pydicom/pydicom"
NAMESPACE = f"codex:{REPO}:1458"
NEXT_PROMPT = "Fix unit-tests in pydicom/tests/test_numpy_pixel_data.py and push again."
DIM = 64


@pytest.fixture
def openai_fake() -> Iterator[ServedFake]:
    served = serve_fake(fake_openai.create_app())
    yield served
    served.stop()


@pytest.fixture
def hashing(deps: Container) -> Container:
    deps.settings.embeddings_dimension = DIM
    return deps


@pytest.fixture
def via_endpoint(deps: Container, openai_fake: ServedFake) -> Container:
    deps.settings.embeddings_base_url = f"{openai_fake.url}/v1"
    deps.settings.embeddings_dimension = DIM
    return deps


def insert_evaluation(db: Database, *, issue: int = 1458, attempt: int = 1) -> tuple[int, int]:
    """A judged run with real inputs; returns (run_id, evaluation_id)."""
    notify = {
        "prompt": TASK["problem_statement"],
        "summary": "Made Pixel Representation optional in the numpy handler",
        "log_excerpt": EXEC_LOG[-1500:],
    }
    with db.transaction() as tx:
        run = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, workflow_name, namespace, status,"
            " reason, repository, issue_number, attempt, head_sha, pr_number, pr_url,"
            " ci_verdict, ci_summary, notify_payload) VALUES (:uid, 'codex-run-abc12', 'argo',"
            " 'needs_iteration', 'ci_failed', :repo, :issue, :attempt, :sha, 1459, :pr_url,"
            " 'failure', CAST(:ci AS jsonb), CAST(:notify AS jsonb)) RETURNING id",
            uid=f"uid-{issue}-{attempt}",
            repo=REPO,
            issue=issue,
            attempt=attempt,
            sha=TASK["base_commit"],
            pr_url=f"https://github.com/{REPO}/pull/1459",
            ci=json.dumps({"verdict": "failure", "failing": ["unit-tests"]}),
            notify=json.dumps(notify),
        )
        assert run is not None
        record_agent_messages(tx, run["id"], EVENTS)
        evaluation = tx.one(
            "INSERT INTO codex_judge.evaluations (run_id, stage, decision, reasons,"
            " next_prompt, judge_kind, policy_hash) VALUES (:run_id, 'final', 'needs_iteration',"
            " CAST(:reasons AS jsonb), :next_prompt, 'offline', :hash) RETURNING id",
            run_id=run["id"],
            reasons=json.dumps([{"code": "ci_failed", "message": "unit-tests failed"}]),
            next_prompt=NEXT_PROMPT,
            hash="e" * 64,
        )
        assert evaluation is not None
    return int(run["id"]), int(evaluation["id"])


def decided(url: str, event_id: str, run_id: int, evaluation_id: int) -> httpx.Response:
    data = {
        "run_id": run_id,
        "evaluation_id": evaluation_id,
        "decision": "needs_iteration",
        "judge_kind": "offline",
        "reasons": [{"code": "ci_failed", "message": "unit-tests failed"}],
        "next_prompt": NEXT_PROMPT,
        "repository": REPO,
        "issue_number": 1458,
    }
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/codex-judge/judge",
        "ce-type": JUDGE_DECIDED,
        "content-type": "application/json",
    }
    return httpx.post(url, headers=headers, content=json.dumps(data), timeout=30)


def entries(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT id, namespace, kind, content, tags, metadata, embedder, dimension,"
            " vector_dims(embedding) AS dims FROM memories.entries ORDER BY id"
        )


def test_a_decision_stores_ten_labelled_snapshots_once(
    function_url: Any, hashing: Container, db: Database
) -> None:
    run_id, evaluation_id = insert_evaluation(db)
    url = function_url("memories")

    first = decided(url, "evt-1", run_id, evaluation_id)
    redelivered = decided(url, "evt-1", run_id, evaluation_id)
    same_decision_other_event = decided(url, "evt-2", run_id, evaluation_id)

    assert [first.status_code, redelivered.status_code, same_decision_other_event.status_code] == [
        202,
        202,
        202,
    ]
    rows = entries(db)
    assert len(rows) == 10 and len({r["kind"] for r in rows}) == 10
    assert {r["namespace"] for r in rows} == {NAMESPACE}
    assert {r["embedder"] for r in rows} == {HASHING_LABEL}
    assert {r["dims"] for r in rows} == {r["dimension"] for r in rows} == {DIM}
    assert all("hashing" in r["metadata"]["embedder_kind"] for r in rows)
    assert all(r["metadata"]["evaluation_id"] == evaluation_id for r in rows)
    assert {"codex", REPO, "issue-1458", "attempt-1"} <= set(rows[0]["tags"])
    by_kind = {r["kind"]: r["content"] for r in rows}
    assert "Pixel Representation" in by_kind["prompt"]
    assert "turn.failed" in by_kind["agent_messages"]


def test_recall_orders_a_namespace_by_cosine_distance(hashing: Container, db: Database) -> None:
    run_id, evaluation_id = insert_evaluation(db)
    other_run, other_evaluation = insert_evaluation(db, issue=1459)
    embedder = hashing.embedder()
    with db.transaction() as tx:
        assert (
            remember(
                tx, embedder, run_id=run_id, evaluation_id=evaluation_id, database=db.url
            ).stored
            == 10
        )
        remember(tx, embedder, run_id=other_run, evaluation_id=other_evaluation, database=db.url)
        found = recall(tx, embedder, namespace=NAMESPACE, query=NEXT_PROMPT, limit=10)
        only_reasons = recall(
            tx, embedder, namespace=NAMESPACE, query="unit-tests", kinds=["reasons"]
        )
        elsewhere = recall(tx, embedder, namespace="codex:python/cpython:1", query=NEXT_PROMPT)

    assert len(found) == 10 and found[0].kind == "next_prompt"
    assert {m.evaluation_id for m in found} == {evaluation_id}
    distances = [m.distance for m in found]
    assert distances == sorted(distances) and distances[0] < distances[-1]
    assert [m.kind for m in only_reasons] == ["reasons"]
    assert elsewhere == []


def test_an_openai_compatible_endpoint_embeds_the_set_in_one_request(
    function_url: Any, via_endpoint: Container, openai_fake: ServedFake, db: Database
) -> None:
    run_id, evaluation_id = insert_evaluation(db)
    resp = decided(function_url("memories"), "evt-1", run_id, evaluation_id)

    assert resp.status_code == 202, resp.text
    rows = entries(db)
    assert len(rows) == 10
    assert {r["embedder"] for r in rows} == {"openai-compatible:text-embedding-3-small"}
    [request] = httpx.get(f"{openai_fake.url}/_fake/requests").json()["requests"]
    assert request["path"] == "/v1/embeddings" and len(request["json"]["input"]) == 10
    assert request["json"]["dimensions"] == DIM


def test_a_failing_embeddings_endpoint_answers_503_and_the_retry_stores_the_whole_set(
    function_url: Any, via_endpoint: Container, openai_fake: ServedFake, db: Database
) -> None:
    run_id, evaluation_id = insert_evaluation(db)
    httpx.put(
        f"{openai_fake.url}/_fake/state",
        json={"responses": [{"status": 500, "body": {"error": {"message": "boom"}}}]},
    ).raise_for_status()
    url = function_url("memories")

    failed = decided(url, "evt-1", run_id, evaluation_id)
    assert failed.status_code == 503 and entries(db) == []

    retried = decided(url, "evt-1", run_id, evaluation_id)
    assert retried.status_code == 202 and len(entries(db)) == 10


def test_recorded_model_not_found_is_dead_lettered_with_nothing_stored(
    function_url: Any, via_endpoint: Container, openai_fake: ServedFake, db: Database
) -> None:
    run_id, evaluation_id = insert_evaluation(db)
    recorded = corpus.vcr_response("openai/vcr.embeddings.404-model-not-found.pydantic-ai.yaml")
    httpx.put(f"{openai_fake.url}/_fake/state", json={"responses": [recorded]})

    resp = decided(function_url("memories"), "evt-1", run_id, evaluation_id)

    assert resp.status_code == 422 and "does not exist" in resp.json()["message"]
    assert entries(db) == []
    with db.transaction() as tx:
        [letter] = tx.all("SELECT subscriber, error_code FROM runtime.dead_letters")
    assert letter == {"subscriber": "memories", "error_code": 422}


def test_a_changed_dimension_is_refused_naming_the_setting(
    hashing: Container, db: Database
) -> None:
    first = insert_evaluation(db)
    second = insert_evaluation(db, attempt=2)
    with db.transaction() as tx:
        remember(tx, HashingEmbedder(DIM), run_id=first[0], evaluation_id=first[1], database=db.url)
    with db.transaction() as tx, pytest.raises(MemoryDimensionError) as caught:
        remember(
            tx, HashingEmbedder(32), run_id=second[0], evaluation_id=second[1], database=db.url
        )
    assert caught.value.field == "embeddings_dimension" and caught.value.status == 422
    assert f"[{DIM}]" in caught.value.message and "is 32" in caught.value.message


def test_a_fixed_column_dimension_is_checked_at_start(hashing: Container, db: Database) -> None:
    run_id, evaluation_id = insert_evaluation(db)
    with db.transaction() as tx:
        tx.run("ALTER TABLE memories.entries ALTER COLUMN embedding TYPE vector(128)")
    with db.transaction() as tx, pytest.raises(MemoryDimensionError) as caught:
        remember(
            tx, HashingEmbedder(DIM), run_id=run_id, evaluation_id=evaluation_id, database=db.url
        )
    assert "vector(128)" in caught.value.message


def test_an_unknown_run_is_answered_202_and_stores_nothing(
    function_url: Any, hashing: Container, db: Database
) -> None:
    resp = decided(function_url("memories"), "evt-1", 999, 999)
    assert resp.status_code == 202 and entries(db) == []


def test_cli_recall_prints_the_nearest_memories(hashing: Container, db: Database) -> None:
    run_id, evaluation_id = insert_evaluation(db)
    with db.transaction() as tx:
        remember(
            tx, hashing.embedder(), run_id=run_id, evaluation_id=evaluation_id, database=db.url
        )
    env = {
        **os.environ,
        "CODEX_JUDGE_DATABASE_URL": db.url,
        "CODEX_JUDGE_EMBEDDINGS_DIMENSION": str(DIM),
    }
    args = ["memories", "recall", "--namespace", NAMESPACE, "--query", NEXT_PROMPT]
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args, "--limit", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0.") and done.stdout.index("next_prompt") < 30
    assert NEXT_PROMPT in done.stdout and done.stdout.count("[offline-hashing:v1]") == 3
