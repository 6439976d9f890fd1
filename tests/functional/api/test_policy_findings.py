"""The findings recorded under a repository's policies, over real HTTP with real Postgres: the
JSON api (``/api/policies/{owner}/{repo}/findings``: filters, keyset pages, the policy each was
judged under, 400s naming the parameter) and the UI's policy page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.db import Database
from shared.gates.antigaming import Finding
from shared.gates.judge import GateReport
from shared.policy.resolution import effective_policy
from shared.settings import Settings
from tests.support.api_seed import READ, api_settings, seed_run

PATH = "/api/policies/acme/widgets/findings"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return api_settings(database_url, tmp_path)


def _get(api: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(api + path, params=params, headers={"Authorization": f"Bearer {READ}"})


def _inputs(findings: list[Finding], warnings: list[Finding]) -> dict[str, Any]:
    """What the judge records in an evaluation's inputs (the gates' own report)."""
    return GateReport(None, findings, warnings, "inventory").record()


DELETED = Finding(code="test_file_deleted", file="tests/test_a.py", message="test file deleted")
SKIPPED = Finding(
    code="test_skipped",
    file="tests/test_b.py",
    line=7,
    message="@pytest.mark.skip added",
    before="def test_b():",
    after="@pytest.mark.skip\ndef test_b():",
)
NOQA = Finding(code="lint_suppression", file="a.py", line=3, message="# noqa", severity="warning")


def _seed(db: Database, deps: Any) -> tuple[str, list[int]]:
    """Three evaluations with findings (one under an older policy), one clean, one elsewhere."""
    with db.transaction() as tx:
        _, current = effective_policy(tx, deps.settings, "acme/widgets")
    old = seed_run(db, issue=1, policy_hash="0" * 64, inputs=_inputs([DELETED], []))
    seed_run(db, issue=2, policy_hash=current, inputs=_inputs([], []))  # clean: not listed
    warned = seed_run(db, issue=3, policy_hash=current, inputs=_inputs([], [NOQA]))
    both = seed_run(db, issue=4, policy_hash=current, inputs=_inputs([SKIPPED], [NOQA]))
    seed_run(db, repository="acme/other", issue=5, inputs=_inputs([DELETED], []))
    return current, [both, warned, old]


def test_recorded_findings_are_listed_newest_first_with_the_policy_they_were_judged_under(
    api: str, db: Database, deps: Any
) -> None:
    current, expected = _seed(db, deps)
    page = _get(api, PATH).json()
    assert page["policy_hash"] == current
    assert [e["run_id"] for e in page["items"]] == expected
    newest, _, oldest = page["items"]
    assert [f["code"] for f in newest["findings"]] == ["test_skipped"]
    assert newest["findings"][0]["line"] == 7
    assert newest["findings"][0]["after"] == "@pytest.mark.skip\ndef test_b():"
    assert [w["severity"] for w in newest["warnings"]] == ["warning"]
    assert newest["source"] == "inventory" and newest["current_policy"] is True
    assert oldest["current_policy"] is False and oldest["policy_hash"] == "0" * 64
    assert oldest["findings"][0]["code"] == "test_file_deleted"


def test_findings_are_filtered_by_code_and_policy_and_paged_without_repeats(
    api: str, db: Database, deps: Any
) -> None:
    current, expected = _seed(db, deps)
    by_code = _get(api, PATH, code="lint_suppression").json()["items"]
    assert [e["run_id"] for e in by_code] == expected[:2]
    by_policy = _get(api, PATH, policy_hash="0" * 64).json()["items"]
    assert [e["run_id"] for e in by_policy] == [expected[2]]
    assert _get(api, PATH, policy_hash=current, code="test_file_deleted").json()["items"] == []
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = _get(api, PATH, **params).json()
        assert len(page["items"]) <= 1
        seen += [e["run_id"] for e in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"policy_hash": "abc"}, "policy_hash"),
        ({"code": "Not A Code"}, "code"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "bm9wZQ"}, "cursor"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_findings_parameter_is_a_400_naming_it(
    api: str, params: dict[str, str], field: str
) -> None:
    resp = _get(api, PATH, **params)
    assert resp.status_code == 400
    assert resp.json()["field"] == field


def test_findings_need_a_token_and_are_in_the_openapi_document(api: str) -> None:
    resp = httpx.get(api + PATH)
    assert (resp.status_code, resp.json()) == (401, {"error": "Unauthorized"})
    doc = httpx.get(api + "/openapi.json").json()
    op = doc["paths"]["/api/policies/{owner}/{repo}/findings"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"owner", "repo", "code", "policy_hash"}
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FindingsPage"
    }
    assert "RecordedFinding" in doc["components"]["schemas"]


def test_the_policy_page_shows_the_findings_recorded(api: str, db: Database, deps: Any) -> None:
    _, expected = _seed(db, deps)
    client = httpx.Client(base_url=api)
    assert client.post("/ui/login", data={"token": READ}).status_code == 302
    page = client.get("/ui/policies/acme/widgets")
    assert page.status_code == 200
    assert "Findings recorded" in page.text
    for run_id in expected:
        assert f'href="/ui/runs/{run_id}"' in page.text
    assert "tests/test_b.py:7" in page.text and "in force" in page.text
    filtered = client.get("/ui/policies/acme/widgets", params={"code": "test_file_deleted"})
    assert f'href="/ui/runs/{expected[2]}"' in filtered.text
    assert f'href="/ui/runs/{expected[0]}"' not in filtered.text
    bad = client.get("/ui/policies/acme/widgets", params={"policy_hash": "xyz"})
    assert bad.status_code == 400 and "policy_hash" in bad.text
