"""The api function over real HTTP with real Postgres: tokens and scopes, the reads (runs with
filters and keyset pages, one run with its evidence and timeline, issues, dead letters), errors
naming the parameter, and the OpenAPI 3.1 document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from shared.db import Database
from shared.settings import Settings
from tests.support.api_seed import (
    OPERATOR,
    READ,
    Sink,
    api_settings,
    seed_dead_letter,
    seed_run,
)

READ_OLD = "read-token-previous"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, broker: Sink) -> Settings:
    return api_settings(
        database_url,
        tmp_path,
        read_tokens=(f"viewer:{READ}", READ_OLD),
        k_sink=broker.url,
        agents_sse_max_s=3.0,  # a stream ends soon after its client leaves
        agents_sse_keepalive_s=0.2,
    )


def _get(api: str, path: str, token: str | None = READ, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(api + path, params=params, headers=headers)


UNAUTHORIZED = [
    {},  # missing
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": f"Basic {READ}"},  # not a bearer token
    {"Authorization": "Bearer read-token-rotated-out"},
]


def test_every_endpoint_but_health_and_openapi_answers_401_without_detail(api: str) -> None:
    for headers in UNAUTHORIZED:
        _all_refused(api, headers)
    assert httpx.get(api + "/healthz").json() == {"function": "api", "ready": True}
    assert httpx.get(api + "/openapi.json").status_code == 200


def _all_refused(api: str, headers: dict[str, str]) -> None:
    for path in ("/api/runs", "/api/runs/1", "/api/issues", "/api/dead-letters"):
        resp = httpx.get(api + path, headers=headers)
        assert resp.status_code == 401, path
        assert resp.json() == {"error": "Unauthorized"}
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    resp = httpx.post(api + "/api/runs/1/approve", headers=headers)
    assert resp.status_code == 401


def test_both_tokens_of_a_rotation_are_accepted(api: str, db: Database) -> None:
    seed_run(db)
    for token in (READ, READ_OLD, OPERATOR):
        assert _get(api, "/api/runs", token).status_code == 200


def test_runs_are_filtered_and_paged_by_keyset_without_repeats(api: str, db: Database) -> None:
    ids = [
        seed_run(db, issue=i, status="completed", decision="pass", reason=None)
        for i in (1, 2, 3, 4, 5)
    ]
    other = seed_run(db, repository="acme/other", issue=9)
    seen: list[int] = []
    params: dict[str, Any] = {"repository": "acme/widgets", "limit": 2}
    while True:
        page = _get(api, "/api/runs", **params).json()
        seen += [r["id"] for r in page["items"]]
        assert len(page["items"]) <= 2
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == sorted(ids, reverse=True)
    assert [r["id"] for r in _get(api, "/api/runs", status="needs_human").json()["items"]] == [
        other
    ]
    assert [r["id"] for r in _get(api, "/api/runs", issue=3).json()["items"]] == [ids[2]]
    assert _get(api, "/api/runs", decision="pass", reason="nothing").json()["items"] == []
    found = _get(api, "/api/runs", reason="low_confidence", decision="needs_human").json()
    assert [r["id"] for r in found["items"]] == [other]


def test_runs_are_filtered_by_time_range(api: str, db: Database) -> None:
    old = seed_run(db, issue=1, age_min=120)
    new = seed_run(db, issue=2)
    with db.transaction() as tx:
        cut = tx.one("SELECT now() - interval '1 hour' AS t")["t"].isoformat()  # type: ignore[index]
    assert [r["id"] for r in _get(api, "/api/runs", since=cut).json()["items"]] == [new]
    assert [r["id"] for r in _get(api, "/api/runs", until=cut).json()["items"]] == [old]


BAD_QUERIES = [
    ({"limit": "0"}, "limit"),
    ({"limit": "201"}, "limit"),
    ({"status": "finished"}, "status"),
    ({"issue": "x"}, "issue"),
    ({"issue": "38421025304"}, "issue"),  # past Postgres integer: was a 500 (schemathesis)
    ({"repository": "no-slash"}, "repository"),
    ({"since": "2026-01-01T00:00:00"}, "since"),  # no zone
    ({"cursor": "bm9wZQ"}, "cursor"),
    ({"colour": "red"}, "colour"),
]


def test_a_bad_query_parameter_is_a_400_naming_it(api: str) -> None:
    for params, field in BAD_QUERIES:
        resp = _get(api, "/api/runs", **params)
        assert resp.status_code == 400, params
        assert resp.json()["field"] == field
        assert field in resp.json()["message"]


def test_one_run_has_its_evaluation_timeline_effects_timers_and_links(
    api: str, db: Database
) -> None:
    run_id = seed_run(db)
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO runtime.effects (idempotency_key, kind, run_id, state, request, response)"
            " VALUES ('discord:1', 'discord', :id, 'done', '{\"content\": \"hi\"}', '{\"id\": 7}')",
            id=run_id,
        )
        tx.run(
            "INSERT INTO runtime.timers (owner, run_id, kind, due_at) VALUES"
            " ('ci-status', :id, 'ci_timeout', now() + interval '1 hour')",
            id=run_id,
        )
    detail = _get(api, f"/api/runs/{run_id}").json()
    assert detail["run"]["id"] == run_id
    assert detail["links"]["pull_request"].endswith("/pull/101")
    (evaluation,) = detail["evaluations"]
    assert evaluation["decision"] == "needs_human"
    assert evaluation["seal"]["head_sha"] == detail["run"]["head_sha"]
    assert [t["consumer"] for t in detail["timeline"]] == ["ci-status", "judge"]
    assert detail["timeline"][1]["reply_type"] == "io.codexjudge.judge.decided.v1"
    assert detail["effects"][0]["response"] == {"id": 7}
    assert detail["timers"][0]["kind"] == "ci_timeout"
    assert _get(api, "/api/runs/999999").status_code == 404
    bad = _get(api, "/api/runs/abc")
    assert (bad.status_code, bad.json()["field"]) == (400, "run_id")


def test_issues_summarise_attempts_and_stats(api: str, db: Database) -> None:
    seed_run(
        db,
        issue=1,
        attempt=1,
        status="needs_iteration",
        decision="needs_iteration",
        reason="ci_failed",
    )
    seed_run(db, issue=1, attempt=2, status="completed", decision="pass", reason=None)
    seed_run(db, issue=2, attempt=1)
    report = _get(api, "/api/issues").json()
    by_issue = {i["issue_number"]: i for i in report["items"]}
    assert by_issue[1]["attempts"] == 2 and by_issue[1]["completed"] is True
    assert by_issue[2]["latest_status"] == "needs_human"
    stats = report["stats"]
    assert stats["issues"] == 2
    assert stats["completion_rate"] == pytest.approx(0.5)
    assert stats["average_attempts"] == pytest.approx(1.5)
    assert stats["failure_reasons"] == {"ci_failed": 1, "low_confidence": 1}
    assert stats["average_confidence"] == pytest.approx(0.7)


def test_dead_letters_list_with_knative_error_extensions_and_pages(api: str, db: Database) -> None:
    first = seed_dead_letter(db, event_id="ev-1")
    second = seed_dead_letter(db, subscriber="merge", event_id="ev-2")
    page = _get(api, "/api/dead-letters", limit=1).json()
    assert [d["id"] for d in page["items"]] == [second]
    assert page["items"][0]["error_dest"] == "http://merge.codex-judge.svc.cluster.local"
    assert page["items"][0]["error_code"] == 422
    rest = _get(api, "/api/dead-letters", limit=1, cursor=page["next_cursor"]).json()
    assert [d["id"] for d in rest["items"]] == [first] and rest["next_cursor"] is None
    assert [
        d["id"] for d in _get(api, "/api/dead-letters", subscriber="judge").json()["items"]
    ] == [first]


def test_openapi_document_is_valid_3_1_and_covers_every_endpoint(api: str) -> None:
    doc = httpx.get(api + "/openapi.json").json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/healthz",
        "/openapi.json",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/issues",
        "/api/dead-letters",
        "/api/github/pulls/{owner}/{repo}/{number}",
        "/api/policies/{owner}/{repo}",
        "/api/policies/{owner}/{repo}/findings",
        "/api/agents/events",
        "/api/runs/{run_id}/approve",
        "/api/runs/{run_id}/rerun",
        "/api/runs/{run_id}/cancel",
        "/api/dead-letters/{dead_letter_id}/replay",
    }
    runs = doc["paths"]["/api/runs"]["get"]
    assert {p["name"] for p in runs["parameters"]} >= {"repository", "status", "cursor", "limit"}
    assert runs["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunPage"
    }
    assert "RunDetail" in doc["components"]["schemas"]


def test_a_pull_request_has_its_runs_checks_by_commit_newest_first_files_threads_and_reviews(
    api: str, db: Database
) -> None:
    first = seed_run(db, issue=1, attempt=1, status="needs_iteration", decision="needs_iteration")
    second = seed_run(db, issue=1, attempt=2)
    with db.transaction() as tx:
        shas = [
            r["head_sha"]
            for r in tx.all(
                "SELECT head_sha FROM codex_judge.runs WHERE id = ANY(:ids) ORDER BY id",
                ids=[first, second],
            )
        ]
        tx.run(
            "INSERT INTO github.pr_state (repository, pr_number, head_sha, state, title,"
            " source_updated_at) VALUES ('acme/widgets', 101, :sha, 'open', 'Fix it', now())",
            sha=shas[1],
        )
        for sha, name, conclusion, age in (
            (shas[0], "build", "failure", 60),
            (shas[1], "build", "success", 5),
            (shas[1], "lint", "success", 6),
        ):
            tx.run(
                "INSERT INTO github.check_state (repository, head_sha, kind, name, status,"
                " conclusion, source_updated_at) VALUES ('acme/widgets', :sha, 'check_run',"
                " :name, 'completed', :conclusion, now() - make_interval(mins => :age))",
                sha=sha,
                name=name,
                conclusion=conclusion,
                age=age,
            )
        tx.run(
            "INSERT INTO github.review_threads (repository, pr_number, thread_id, is_resolved,"
            " path, line, author, body) VALUES ('acme/widgets', 101, 'T1', false, 'a.py', 3,"
            " 'bot', 'rename this')"
        )
        tx.run(
            "INSERT INTO github.review_state (repository, pr_number, reviewer, review_id, state,"
            " submitted_at) VALUES ('acme/widgets', 101, 'bot', 'R1', 'COMMENTED', now())"
        )
        for path, source, status in (
            ("a.py", "github", "modified"),
            ("a.py", "worktree", "renamed"),
            ("b.py", "github", "added"),
        ):
            tx.run(
                "INSERT INTO github.pr_files (repository, pr_number, head_sha, path, source,"
                " status) VALUES ('acme/widgets', 101, :sha, :path, :source, :status)",
                sha=shas[1],
                path=path,
                source=source,
                status=status,
            )
    pull = _get(api, "/api/github/pulls/acme/widgets/101").json()
    assert pull["files_head_sha"] == shas[1]
    assert [(f["path"], f["source"], f["status"]) for f in pull["files"]] == [
        ("a.py", "worktree", "renamed"),  # the snapshot's row wins over GitHub's
        ("b.py", "github", "added"),
    ]
    assert pull["pull"]["title"] == "Fix it"
    assert [r["id"] for r in pull["judge_runs"]] == [second, first]
    assert pull["judge_runs"][0]["judged"] == "needs_human"
    assert [g["head_sha"] for g in pull["checks"]] == [shas[1], shas[0]]
    assert [c["name"] for c in pull["checks"][0]["checks"]] == ["build", "lint"]
    assert pull["threads"][0]["body"] == "rename this"
    assert pull["reviews"][0]["state"] == "COMMENTED"
    assert _get(api, "/api/github/pulls/acme/widgets/999").status_code == 404
    bad = _get(api, "/api/github/pulls/acme/wid%20gets/101")
    assert (bad.status_code, bad.json()["field"]) == (400, "repo")
    huge = _get(api, "/api/github/pulls/acme/widgets/38421025304")
    assert (huge.status_code, huge.json()["field"]) == (400, "number")


def test_a_repositorys_effective_policy_has_its_hash_layers_and_history(
    api: str, db: Database, deps: Any
) -> None:
    from shared.policy.packs import set_pack
    from shared.policy.resolution import effective_policy

    with db.transaction() as tx:
        set_pack(tx, deps.settings, "acme/widgets", "required_checks: [build]\n", created_by="ops")
        set_pack(
            tx, deps.settings, "acme/widgets", "required_checks: [build, lint]\n", created_by="ops"
        )
        _, digest = effective_policy(tx, deps.settings, "acme/widgets")
    view = _get(api, "/api/policies/acme/widgets").json()
    assert view["policy_hash"] == digest
    assert [c["name"] for c in view["policy"]["required_checks"]] == ["build", "lint"]
    assert [v["version"] for v in view["versions"]] == [1, 2]
    assert view["layers"][-1]["repository"] == "acme/widgets"
    assert _get(api, "/api/policies/acme/other").json()["versions"] == []


def test_agent_messages_stream_as_server_sent_events_behind_a_token(api: str, db: Database) -> None:
    from shared.agents import store
    from shared.agents.messages import to_row

    subject = "argo.workflow.argo.codex-impl.wf-uid-7.agent.implementer.message"
    rows = [
        to_row(subject, json.dumps({"message_id": f"m{n}", "content": f"#{n}"}).encode(), {}, n)
        for n in range(3)
    ]
    with db.transaction() as tx:
        store.insert_rows(tx, rows, "nats")
    url = api + "/api/agents/events"
    assert httpx.get(url, params={"workflow_uid": "wf-uid-7"}).status_code == 401
    bad = _get(api, "/api/agents/events", run="x")
    assert (bad.status_code, bad.json()["field"]) == (400, "run")
    headers = {"Authorization": f"Bearer {READ}"}
    contents: list[str] = []
    with httpx.stream("GET", url, params={"workflow_uid": "wf-uid-7"}, headers=headers) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data: "):
                contents.append(json.loads(line[6:])["content"])
            if len(contents) == 3:
                break
    assert contents == ["#0", "#1", "#2"]
