"""Fault injection, the one mechanism every fake shares (``/_fake/faults``): each upstream can
answer 502/503/429/secondary-rate-limit on demand, in its own error shape, and our adapters see
each as the transient error it is (issue 10)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.adapters.argo import HttpxArgo
from shared.adapters.argocd import HttpxArgoCD
from shared.errors import RateLimitedError, UpstreamError
from shared.local.fakes import argo as fake_argo
from shared.local.fakes import argocd as fake_argocd
from shared.local.fakes import discord as fake_discord
from shared.local.fakes import facteur as fake_facteur
from shared.local.fakes import github as fake_github
from shared.local.fakes import openai as fake_openai
from shared.local.fakes.base import ServedFake, fault, hold, serve_fake

SHA = "a" * 40


@pytest.fixture
def argo() -> Iterator[ServedFake]:
    served = serve_fake(fake_argo.create_app())
    yield served
    served.stop()


@pytest.fixture
def argocd() -> Iterator[ServedFake]:
    apps = {"hello": fake_argocd.application("hello", revision="b" * 40)}
    served = serve_fake(fake_argocd.create_app({"applications": apps}))
    yield served
    served.stop()


def _arm(served: ServedFake, *faults: dict) -> None:
    httpx.post(f"{served.url}/_fake/faults", json=list(faults)).raise_for_status()


def test_argo_submit_answers_an_injected_502_then_works_and_creates_one_workflow(
    argo: ServedFake,
) -> None:
    _arm(argo, fault(502, path="/submit", method="POST"))
    client = HttpxArgo(argo.url)
    with pytest.raises(UpstreamError, match="502"):
        client.submit("default", "verify", generate_name="verify-")
    assert httpx.get(f"{argo.url}/_fake/state").json()["workflows"] == {}

    created = client.submit("default", "verify", generate_name="verify-")
    state = httpx.get(f"{argo.url}/_fake/state").json()
    assert list(state["workflows"]) == [f"default/{created.name}"]
    assert httpx.get(f"{argo.url}/_fake/faults").json() == {
        "faults": [],
        "injected": [{"status": 502, "method": "POST", "path": "/api/v1/workflows/default/submit"}],
        "held": [],
    }


def test_argo_injected_429_is_grpc_resource_exhausted_with_retry_after(argo: ServedFake) -> None:
    _arm(argo, fault(429, path="/api/v1/workflows/", headers={"Retry-After": "2"}))
    answer = httpx.get(f"{argo.url}/api/v1/workflows/default/anything")
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "2"
    assert answer.json()["code"] == 8 and answer.json()["details"] == []

    _arm(argo, fault(429, headers={"Retry-After": "2"}))
    with pytest.raises(RateLimitedError) as caught:
        HttpxArgo(argo.url).get_workflow("default", "anything")
    assert caught.value.retry_after == 2


def test_argocd_sync_answers_injected_faults_in_turn_and_changes_nothing_meanwhile(
    argocd: ServedFake,
) -> None:
    _arm(argocd, fault(503, path="/sync", times=2), fault(429, path="/sync"))
    client = HttpxArgoCD(argocd.url)
    for expected in (UpstreamError, UpstreamError, RateLimitedError):
        with pytest.raises(expected):
            client.sync("hello", SHA)
    state = httpx.get(f"{argocd.url}/_fake/state").json()
    assert state["syncs"] == [] and state["pending"] == {}

    assert client.sync("hello", SHA).name == "hello"
    assert len(httpx.get(f"{argocd.url}/_fake/state").json()["syncs"]) == 1


def test_argocd_fault_body_is_its_grpc_gateway_error_shape(argocd: ServedFake) -> None:
    _arm(argocd, fault(502, method="GET"))
    answer = httpx.get(f"{argocd.url}/api/v1/applications/hello")
    assert answer.status_code == 502
    body = answer.json()
    assert body["code"] == 14 and body["error"] == body["message"]
    assert httpx.get(f"{argocd.url}/api/v1/applications/hello").status_code == 200


def test_a_fault_filtered_by_method_leaves_other_methods_alone(argocd: ServedFake) -> None:
    _arm(argocd, fault(502, method="POST"))
    assert httpx.get(f"{argocd.url}/api/v1/applications/hello").status_code == 200
    assert httpx.post(f"{argocd.url}/api/v1/applications/hello/sync", json={}).status_code == 502


@pytest.mark.parametrize(
    ("module", "path"),
    [
        (fake_github, "/repos/o/r/pulls/1"),
        (fake_discord, "/api/webhooks/1/t"),
        (fake_facteur, "/codex/tasks"),
        (fake_openai, "/v1/chat/completions"),
    ],
)
def test_every_fake_takes_the_same_faults(module, path: str) -> None:
    served = serve_fake(module.create_app())
    try:
        _arm(served, fault(503, path=path, body={"message": "down for the test"}))
        answer = httpx.post(f"{served.url}{path}", json={})
        assert (answer.status_code, answer.json()) == (503, {"message": "down for the test"})
        assert httpx.get(f"{served.url}/_fake/faults").json()["faults"] == []
    finally:
        served.stop()


def test_github_secondary_rate_limit_as_a_fault_is_seen_as_rate_limited() -> None:
    from shared.adapters.github import HttpxGitHub

    served = serve_fake(fake_github.create_app())
    try:
        _arm(
            served,
            fault(
                403,
                headers={"retry-after": "3", "x-ratelimit-remaining": "4000"},
                body={"message": "You have exceeded a secondary rate limit."},
            ),
        )
        with pytest.raises(RateLimitedError) as caught:
            HttpxGitHub(served.url, token="t").get_pull("o/r", 1)
        assert caught.value.retry_after == 3
    finally:
        served.stop()


def test_malformed_faults_are_refused_and_disarm_clears_them(argo: ServedFake) -> None:
    bad = httpx.post(f"{argo.url}/_fake/faults", json={"status": "502"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]
    assert httpx.post(f"{argo.url}/_fake/faults", json=[1]).status_code == 400
    _arm(argo, fault(502, times=10))
    assert httpx.delete(f"{argo.url}/_fake/faults").status_code == 204
    assert httpx.get(f"{argo.url}/api/v1/workflows/default/x").status_code == 404


def test_a_hold_applies_the_write_and_lists_it_before_the_answer_is_sent(
    argo: ServedFake,
) -> None:
    """The crash window of issue 10's soak: the workflow exists and the hold is listed while the
    caller is still waiting; a caller that gives up early never hears of it."""
    _arm(argo, hold(1.5, path="/submit", method="POST"))
    client = HttpxArgo(argo.url, timeout_s=0.3)
    with pytest.raises(UpstreamError):  # the caller times out inside the window
        client.submit("default", "verify", generate_name="verify-")
    state = httpx.get(f"{argo.url}/_fake/state").json()
    assert len(state["workflows"]) == 1  # applied although never acknowledged
    faults = httpx.get(f"{argo.url}/_fake/faults").json()
    assert faults["faults"] == [] and faults["injected"] == []
    assert [h.pop("json")["resourceName"] for h in faults["held"]] == ["verify"]
    assert faults["held"] == [
        {
            "seq": 0,
            "method": "POST",
            "path": "/api/v1/workflows/default/submit",
            "status": 200,
            "hold_s": 1.5,
        }
    ]
    # Disarmed after its one use: the next submit is answered at once.
    created = HttpxArgo(argo.url).submit("default", "verify", generate_name="verify-")
    assert f"default/{created.name}" in httpx.get(f"{argo.url}/_fake/state").json()["workflows"]


def test_a_malformed_hold_is_refused_naming_the_field(argo: ServedFake) -> None:
    for bad in ({"hold_s": "2"}, {"hold_s": 0}, {"hold_s": 61}, {"hold_s": True}):
        answer = httpx.post(f"{argo.url}/_fake/faults", json=bad)
        assert answer.status_code == 400 and "hold_s" in answer.json()["error"], bad
