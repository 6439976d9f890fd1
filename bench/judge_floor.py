"""``judge_vs_floor`` (issue 12): the judge's decisions per second over HTTP with Postgres ÷ the
floor (:mod:`bench.floor_function`), measured in the same run with the same client.

Each event is a binary-mode ``io.codexjudge.ci.concluded.v1`` for its own run (a distinct
issue), waiting with CI green and the AI review approved, so the judge does its whole decision:
the inbox claim, the run lock, one GraphQL live-state read and the PR diff from the fake GitHub
(over real HTTP, through the ETag cache), the deterministic gates, the offline judge, the sealed
evaluation and the reply. The fake GitHub serves one recorded pull request (the judge's
functional tests' PR and SWE-bench patch); its cost is part of the subject's, as GitHub's
latency is in production (a loopback fake answers in well under a millisecond).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from shared.db import Database
from shared.local.fakes.base import serve_fake
from shared.local.fakes.github import create_app
from tests.functional.judge.test_judge import CI_SUCCESS, PR, REPO, REVIEW_OK, SHA, seed

SQL_RUN = """
INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number, attempt,
    head_sha, pr_number, ci_verdict, ci_summary, review_verdict, review_summary, notify_payload)
SELECT 'judge-bench-' || n, 'waiting_for_review', 'Succeeded', :repo, n, 1, :sha, :pr,
       'success', CAST(:ci AS jsonb), 'approved', CAST(:review AS jsonb),
       CAST(:notify AS jsonb)
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n
RETURNING id
"""


def seed_runs(db: Database, first_issue: int, count: int) -> list[int]:
    """``count`` judged-ready runs of distinct issues; their ids in order."""
    with db.transaction() as tx:
        rows = tx.all(
            SQL_RUN,
            repo=REPO,
            sha=SHA,
            pr=PR,
            ci=json.dumps(CI_SUCCESS),
            review=json.dumps(REVIEW_OK),
            notify=json.dumps({"summary": "Fixed the pixel data handler"}),
            first=first_issue,
            last=first_issue + count - 1,
        )
    return sorted(int(r["id"]) for r in rows)


def events(run_ids: list[int]) -> list[tuple[dict[str, str], bytes]]:
    """The ``ci.concluded`` deliveries, one per run: (headers, body)."""
    out = []
    for run_id in run_ids:
        body = {
            "run_id": run_id,
            "repository": REPO,
            "head_sha": SHA,
            "pr_number": PR,
            "verdict": "success",
        }
        headers = {
            "ce-specversion": "1.0",
            "ce-id": f"judge-bench-{run_id}",
            "ce-source": "/codex-judge/ci-status",
            "ce-type": "io.codexjudge.ci.concluded.v1",
            "content-type": "application/json",
        }
        out.append((headers, json.dumps(body).encode()))
    return out


def fake_github() -> Any:
    """The fake GitHub serving the recorded PR; ``.url``, ``.stop()`` (its request lines are
    not logged: a line per request would cost the run more than the fake does)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    fake = serve_fake(create_app())
    seed(fake)
    return fake
