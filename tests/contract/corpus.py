"""Recorded real payloads from ``tests/fixtures/corpus``, shaped as fake state.

Betamax cassettes (github3.py) store gzip'd bodies in base64; the webhook files hold check-run
objects with the same shape as the REST check-runs list (SOURCES.md, gap 4).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

import yaml

from tests.conftest import FIXTURES

CORPUS = FIXTURES / "corpus"
PR_KEY = "python/cpython#1"


def load_json(relative: str) -> Any:
    """A corpus JSON file."""
    return json.loads((CORPUS / relative).read_text())


def betamax_body(relative: str, uri_suffix: str) -> Any:
    """The JSON response body of the cassette interaction whose URI ends with ``uri_suffix``."""
    for interaction in load_json(relative)["http_interactions"]:
        if interaction["request"]["uri"].endswith(uri_suffix):
            body = interaction["response"]["body"]
            raw = (
                base64.b64decode(body["base64_string"])
                if body.get("base64_string")
                else body["string"].encode()
            )
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return json.loads(raw)
    raise LookupError(f"{relative}: no interaction ending with {uri_suffix}")


def vcr_response(relative: str) -> dict[str, Any]:
    """The first response of a pydantic-ai VCR cassette: ``{"status", "body", "headers"}``."""
    cassette = yaml.safe_load((CORPUS / relative).read_text())
    response = cassette["interactions"][0]["response"]
    headers = {
        k: v[0] if isinstance(v, list) else v
        for k, v in (response.get("headers") or {}).items()
        if k.lower() not in ("content-length", "transfer-encoding", "content-type", "connection")
    }
    return {
        "status": response["status"]["code"],
        "body": response["parsed_body"],
        "headers": headers,
    }


def recorded_pull() -> dict[str, Any]:
    """The real ``GET /repos/python/cpython/pulls/1`` body."""
    return dict(load_json("github-rest/pulls.get.cpython-1.200.body.gidgethub.json"))


def check_runs_for(sha: str, count: int) -> list[dict[str, Any]]:
    """``count`` check runs on ``sha`` built from the recorded webhook check-run objects
    (success, failure, skipped, queued), each with its own id and name."""
    sources = [
        load_json("github-webhooks/check_run.completed.success.octokit.json")["check_run"],
        load_json("github-webhooks/check_run.completed.failure.octokit.json")["check_run"],
    ]
    for name in (
        "check_run.completed.skipped.cogni-delivery.json",
        "check_run.created.cogni-delivery.json",
    ):
        delivery = load_json(f"github-webhooks/{name}")
        sources.append(json.loads(base64.b64decode(delivery["body_raw_base64"]))["check_run"])
    runs = []
    for index in range(count):
        run = copy.deepcopy(sources[index % len(sources)])
        run.update(id=run["id"] + index, head_sha=sha, name=f"{run['name']} ({index})")
        runs.append(run)
    return runs


def recorded_reviews() -> list[dict[str, Any]]:
    """The five real reviews of sigmavirus24/github3.py#671."""
    return list(
        betamax_body(
            "github-rest/pulls.reviews.list.betamax.github3py.json",
            "/pulls/671/reviews?per_page=100",
        )
    )


def recorded_statuses() -> list[dict[str, Any]]:
    """The real statuses of a combined-success commit."""
    body = betamax_body(
        "github-rest/commits.status.combined-success.betamax.github3py.json", "/status"
    )
    return list(body["statuses"])


def openai_body(name: str) -> dict[str, Any]:
    """A recorded chat.completion body from ``corpus/openai``."""
    return dict(load_json(f"openai/{name}"))
