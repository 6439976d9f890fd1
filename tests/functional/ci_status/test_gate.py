"""The strict CI gate over real HTTP (issue 3): app-pinned required checks, reordered events,
pushes during the wait, rate limits, API errors, flaky retries and the base-freshness rule.

Every check object is a real recorded delivery (``derekg1729/test-repo``, Cogni-DAO fixtures;
see tests/fixtures/corpus/SOURCES.md) with only its id, name, conclusion or app changed.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import httpx

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes.base import ServedFake
from tests.functional.ci_status.test_ci_status import (
    REPO,
    SHA,
    _recorded,
    check_run,
    github,
    insert_run,
    post_event,
    run_completed,
    run_row,
    seed,
)

__all__ = ["github"]  # the fixture, re-exported for pytest

NEW_SHA = "b47337c4ca1d0241a46b452efc902c18973b5ad6"  # the recorded synchronize's head


def set_policy(db: Database, document: dict[str, Any]) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r,"
            " CAST(:d AS jsonb))",
            r=REPO,
            d=json.dumps(document),
        )


def codeql(
    run_id: int,
    conclusion: str | None,
    *,
    app: str = "github-advanced-security",
    app_id: int = 57789,
) -> dict[str, Any]:
    """The recorded CodeQL check run (created delivery) with a conclusion and app."""
    obj = copy.deepcopy(_recorded("check_run.created.cogni-delivery.json")["check_run"])
    obj.update(
        id=run_id,
        status="completed" if conclusion else "queued",
        conclusion=conclusion,
        completed_at="2025-10-12T00:09:00Z" if conclusion else None,
    )
    obj["app"] = {**obj["app"], "slug": app, "id": app_id}
    return dict(obj)


def check_event(check: dict[str, Any], action: str = "completed") -> dict[str, Any]:
    payload = _recorded("check_run.created.cogni-delivery.json")
    payload["action"] = action
    payload["check_run"] = check
    return payload


def effects(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all("SELECT idempotency_key, state FROM runtime.effects ORDER BY claimed_at")


def write_actions(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT idempotency_key, action, mode, http_status, outcome FROM github.write_actions"
            " ORDER BY id"
        )


def test_a_required_check_from_the_wrong_app_does_not_satisfy_it_and_is_reported(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    set_policy(
        db, {"required_checks": [{"name": "CodeQL", "app_slug": "github-advanced-security"}]}
    )
    impostor = codeql(900, "success", app="github-actions", app_id=15368)
    seed(github, {"check_runs": {f"{REPO}@{SHA}": [impostor]}})
    run_id = insert_run(db)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202  # still pending: wrong app
    assert run_row(db, run_id)["ci_verdict"] is None
    resp = post_event(
        url, "com.github.check_run.completed", check_event(codeql(901, "success")), "d1"
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["verdict"] == "success" and body["wrong_app"] == ["CodeQL"]
    apps = {(c["app"], c["app_id"]) for c in body["checks"]}
    assert apps == {("github-actions", 15368), ("github-advanced-security", 57789)}


def test_events_in_reverse_order_keep_the_newest_state_of_each_check(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    set_policy(db, {"required_checks": ["CodeQL", "OpenSSF Scorecard (weekly)"]})
    run_id = insert_run(db)
    url = function_url("ci_status")
    # The re-run (larger id) succeeded; the first attempt's failure and its "created"
    # delivery arrive afterwards and must not roll the check back.
    assert (
        post_event(
            url, "com.github.check_run.completed", check_event(codeql(2, "success")), "a"
        ).status_code
        == 202
    )
    late_failure = codeql(1, "failure")
    assert (
        post_event(
            url, "com.github.check_run.completed", check_event(late_failure), "b"
        ).status_code
        == 202
    )
    created = codeql(2, None)
    assert (
        post_event(
            url, "com.github.check_run.created", check_event(created, "created"), "c"
        ).status_code
        == 202
    )
    scorecard = _recorded("check_run.completed.skipped.cogni-delivery.json")
    resp = post_event(url, "com.github.check_run.completed", scorecard, "d")
    assert resp.status_code == 200, resp.text
    assert resp.json()["verdict"] == "success"
    assert run_row(db, run_id)["ci_verdict"] == "success"


def test_a_push_during_the_wait_supersedes_the_run_and_old_green_never_concludes_it(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(db, pr=315)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202  # no checks yet
    push = _recorded("pull_request.synchronize.cogni-delivery.json")
    assert push["pull_request"]["head"]["sha"] == NEW_SHA
    resp = post_event(url, "com.github.pull_request.synchronize", push, "push-1")
    assert resp.status_code == 202, resp.text
    with db.transaction() as tx:
        row = tx.one("SELECT status, reason FROM codex_judge.runs WHERE id = :id", id=run_id)
    assert row == {"status": "superseded", "reason": "superseded_by_push"}
    green = _recorded("check_run.completed.skipped.cogni-delivery.json")
    green["check_run"]["conclusion"] = "success"
    assert post_event(url, "com.github.check_run.completed", green, "old-green").status_code == 202
    assert run_row(db, run_id)["ci_verdict"] is None


def test_the_run_at_the_pushed_head_is_not_superseded(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(db, sha=NEW_SHA, pr=315)
    push = _recorded("pull_request.synchronize.cogni-delivery.json")
    resp = post_event(function_url("ci_status"), "com.github.pull_request.synchronize", push, "p")
    assert resp.status_code == 202
    assert run_row(db, run_id)["status"] == "waiting_for_ci"


def test_a_secondary_rate_limit_answers_429_with_retry_after_and_concludes_later(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(
        github,
        {
            "check_runs": {f"{REPO}@{SHA}": [check_run(1, "build", "success")]},
            "rate_limit": {"secondary_next": 1, "secondary_retry_after": 42},
        },
    )
    run_id = insert_run(db)
    url = function_url("ci_status")
    limited = run_completed(url, run_id)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "42"
    assert run_row(db, run_id)["ci_verdict"] is None
    retried = run_completed(url, run_id)  # Knative redelivers the same event
    assert retried.status_code == 200 and retried.json()["verdict"] == "success"


def test_an_exhausted_primary_rate_limit_answers_429_until_the_reset(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    reset = int(time.time()) + 600
    seed(
        github,
        {
            "check_runs": {f"{REPO}@{SHA}": [check_run(1, "build", "success")]},
            "rate_limit": {"remaining": 0, "reset": reset},
        },
    )
    run_id = insert_run(db)
    resp = run_completed(function_url("ci_status"), run_id)
    assert resp.status_code == 429
    assert 500 <= int(resp.headers["Retry-After"]) <= 600
    assert resp.json()["upstream_status"] == 403
    assert run_row(db, run_id)["ci_verdict"] is None


def test_a_github_server_error_is_never_read_as_no_checks(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(github, {"errors": [{"status": 502, "path": "/graphql"}]})
    run_id = insert_run(db)
    resp = run_completed(function_url("ci_status"), run_id)
    assert resp.status_code == 503
    assert run_row(db, run_id)["ci_verdict"] is None


def _flaky_setup(deps: Container, db: Database, github: ServedFake, retries: int) -> int:
    deps.settings.github_write_allowlist = [REPO]
    set_policy(db, {"dry_run": False, "flaky_retry_max": retries, "required_checks": ["CodeQL"]})
    suite = _recorded("check_suite.completed.success.cogni-delivery.json")["check_suite"]
    suite = {**suite, "id": 47422857169, "conclusion": "failure", "app": codeql(1, None)["app"]}
    seed(
        github,
        {
            "check_runs": {f"{REPO}@{SHA}": [codeql(10, "timed_out")]},
            "check_suites": {f"{REPO}@{SHA}": [suite]},
        },
    )
    return insert_run(db)


def test_an_infrastructural_failure_re_requests_its_suite_once_then_the_rerun_decides(
    function_url: Any, github: ServedFake, db: Database, deps: Container
) -> None:
    run_id = _flaky_setup(deps, db, github, retries=1)
    url = function_url("ci_status")
    resp = run_completed(url, run_id)
    assert resp.status_code == 202, resp.text
    state = httpx.get(f"{github.url}/_fake/state").json()
    assert state["rerequested"] == [{"repository": REPO, "suite_id": 47422857169}]
    assert effects(db) == [
        {"idempotency_key": f"rerequest:{REPO}@{SHA}:47422857169:1", "state": "done"}
    ]
    # A redelivered failure event is a retry in flight, not a second retry or a verdict.
    again = post_event(
        url, "com.github.check_run.completed", check_event(codeql(10, "timed_out")), "x"
    )
    assert again.status_code == 202 and len(effects(db)) == 1
    rerun = post_event(
        url, "com.github.check_run.completed", check_event(codeql(11, "success")), "y"
    )
    assert rerun.status_code == 200 and rerun.json()["verdict"] == "success"


def test_flaky_retries_are_bounded_per_commit(
    function_url: Any, github: ServedFake, db: Database, deps: Container
) -> None:
    run_id = _flaky_setup(deps, db, github, retries=1)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202
    second = post_event(
        url, "com.github.check_run.completed", check_event(codeql(11, "cancelled")), "z"
    )
    assert second.status_code == 200 and second.json()["verdict"] == "failure"
    summary = run_row(db, run_id)["ci_summary"]
    assert summary["flaky_retry"]["skipped"] == "retry_limit_reached"
    assert len(effects(db)) == 1


def test_no_retry_for_a_repository_outside_the_write_allow_list(
    function_url: Any, github: ServedFake, db: Database, deps: Container
) -> None:
    run_id = _flaky_setup(deps, db, github, retries=2)
    deps.settings.github_write_allowlist = []
    resp = run_completed(function_url("ci_status"), run_id)
    assert resp.status_code == 200 and resp.json()["verdict"] == "failure"
    assert run_row(db, run_id)["ci_summary"]["flaky_retry"]["skipped"] == "repository_not_allowed"
    assert httpx.get(f"{github.url}/_fake/state").json()["rerequested"] == []
    assert write_actions(db) == [  # the refusal is audited like every other write
        {
            "idempotency_key": f"rerequest:{REPO}@{SHA}:47422857169:1",
            "action": "rerequest_check_suite",
            "mode": "refused",
            "http_status": None,
            "outcome": "repository_not_allowed",
        }
    ]


def test_the_allow_list_matches_a_repository_in_any_letter_case_and_the_retry_is_audited(
    function_url: Any, github: ServedFake, db: Database, deps: Container
) -> None:
    run_id = _flaky_setup(deps, db, github, retries=1)
    deps.settings.github_write_allowlist = [REPO.upper()]  # GitHub names are case-insensitive
    resp = run_completed(function_url("ci_status"), run_id)
    assert resp.status_code == 202, resp.text
    state = httpx.get(f"{github.url}/_fake/state").json()
    assert state["rerequested"] == [{"repository": REPO, "suite_id": 47422857169}]
    assert write_actions(db) == [
        {
            "idempotency_key": f"rerequest:{REPO}@{SHA}:47422857169:1",
            "action": "rerequest_check_suite",
            "mode": "live",
            "http_status": 201,
            "outcome": "success",
        }
    ]


def test_green_ci_on_a_merge_base_too_far_behind_is_stale_base(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    set_policy(db, {"base_max_commits_behind": 5})
    merge_base = "c" * 40
    seed(
        github,
        {
            "check_runs": {f"{REPO}@{SHA}": [check_run(1, "build", "success")]},
            "compare": {
                f"{REPO}@main...{SHA}": {
                    "status": "diverged",
                    "ahead_by": 1,
                    "behind_by": 12,
                    "merge_base_commit": {
                        "sha": merge_base,
                        "commit": {"committer": {"date": "2025-10-01T00:00:00Z"}},
                    },
                    "base_commit": {
                        "sha": "d" * 40,
                        "commit": {"committer": {"date": "2025-10-12T00:00:00Z"}},
                    },
                    "commits": [],
                    "files": [],
                }
            },
        },
    )
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO github.pr_state (repository, pr_number, head_sha, base_ref) VALUES"
            " (:r, 166, :sha, 'main')",
            r=REPO,
            sha=SHA,
        )
    run_id = insert_run(db)
    resp = run_completed(function_url("ci_status"), run_id)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["verdict"] == "stale_base" and body["base_sha"] == merge_base
    assert run_row(db, run_id)["ci_summary"]["base"]["behind_by"] == 12
