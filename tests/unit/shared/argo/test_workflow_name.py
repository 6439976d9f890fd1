"""Deterministic Argo workflow names make a submission idempotent (issue 10): the name is a
DNS-1123 label from the idempotency key, and a repeat answered 409 AlreadyExists by the Argo
Server is returned as the existing workflow."""

from __future__ import annotations

import re

import httpx

from shared.adapters.argo import HttpxArgo
from shared.argo.workflow import MAX_NAME, workflow_name
from shared.local.fakes import argo as fake_argo

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_the_same_key_names_the_same_workflow_and_another_key_another() -> None:
    first = workflow_name("codex-implement", "rerun:12:3")
    assert first == workflow_name("codex-implement", "rerun:12:3")
    assert first != workflow_name("codex-implement", "rerun:12:4")
    assert first.startswith("codex-implement-")


def test_names_are_dns_labels_of_at_most_63_characters() -> None:
    for prefix in ("Codex_Implement.Template", "x" * 200, "--", "verify-4"):
        name = workflow_name(prefix, "deploy:verify:o/r#1@" + "a" * 40)
        assert len(name) <= MAX_NAME
        assert DNS_LABEL.match(name), name


def test_a_repeated_submission_returns_the_workflow_the_first_one_created() -> None:
    client = fake_argo.create_app().test_client()

    def handler(request: httpx.Request) -> httpx.Response:
        answer = client.open(
            request.url.path,
            method=request.method,
            data=request.content,
            headers={"Content-Type": "application/json"},
        )
        return httpx.Response(answer.status_code, content=answer.data)

    argo = HttpxArgo("http://argo.test", transport=httpx.MockTransport(handler))
    name = workflow_name("verify-7", "deploy:verify:o/r#1@abc")

    first = argo.submit("argo", "e2e-verify", parameters={"revision": "abc"}, name=name)
    again = argo.submit("argo", "e2e-verify", parameters={"revision": "abc"}, name=name)

    assert first.name == again.name == name
    assert first.uid == again.uid
