"""run-complete reads the run's own artifacts (issue 13), over real HTTP: a real Postgres,
moto's S3 server, the fake Argo server's artifact endpoints, then the judge deciding from what
was read. The completion is the recorded Argo workflow of tests/fixtures/argo (five artifacts
in three buckets); each artifact is given a different fate."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shared.bootstrap import Container
from shared.cli.main import cmd_explain
from shared.db import Database
from shared.local.fakes.argo import create_app as create_argo
from shared.local.fakes.argo_artifacts import artifact_key, artifacts_state
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.s3 import put_objects
from shared.settings import Settings

# ``github`` is test_judge's fixture (the fake GitHub seeded with a real pull request).
from tests.functional.judge.test_judge import PR, REPO, SHA, github, run_completed  # noqa: F401
from tests.support.archives import (
    argo_wrapped,
    changes_archive,
    gzip_bomb,
    link,
    manifest,
)
from tests.support.s3_server import FaultingS3Proxy, moto_s3

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PARAMS = FIXTURES / "argo" / "sensor.succeeded.artgc-mixed-s3.params.json"
LOG = (
    b"collected 12 items\n"
    b"Traceback (most recent call last):\n"
    b'  File "src/app.py", line 3, in <module>\n'
    b"    import yaml\n"
    b"ModuleNotFoundError: No module named 'yaml'\n"
    b"FAILED tests/test_cli.py::test_dry_run - AssertionError: assert 1 == 0\n"
    b"export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n"
    b"error: patch failed: src/cli.py:12\n"
    b"error: src/cli.py: patch does not apply\n"
)
BIG = bytes(range(256)) * 400  # 102400 bytes; the cap below is 64 KiB
CHANGES = argo_wrapped(
    ".codex-implementation-changes.tar.gz",
    changes_archive(
        manifest(commit=SHA),
        extra=[("../../escape.sh", b"rm -rf /"), link("creds", "/var/run/secrets/token")],
    ),
)


@pytest.fixture(scope="module")
def s3() -> Iterator[FaultingS3Proxy]:
    with moto_s3() as url:
        proxy = FaultingS3Proxy(url)
        objects = {
            ("my-bucket-2", "first-on-completion-1"): CHANGES,
            ("my-bucket-3", "first-on-completion-2"): gzip_bomb(8 * 1024 * 1024),
            ("my-bucket", "two-artgc-8tcvt/two-artgc-8tcvt-first-802059674/main.log"): LOG,
            ("my-bucket-3", "second-on-completion"): BIG,
        }
        put_objects(url, objects)
        try:
            yield proxy
        finally:
            proxy.stop()


@pytest.fixture
def argo() -> Iterator[ServedFake]:
    # on-deletion is not in the bucket: only the Argo Server has it (e.g. another repository).
    key = artifact_key(
        "workflows", "argo", "two-artgc-8tcvt", "two-artgc-8tcvt-1079173309", "on-deletion"
    )
    served = serve_fake(create_argo({"artifacts": artifacts_state({key: b"hello from argo\n"})}))
    yield served
    served.stop()


@pytest.fixture
def settings(settings: Settings, s3: FaultingS3Proxy, argo: ServedFake) -> Settings:
    return settings.model_copy(
        update={
            "artifact_stores": ["s3", "argo-server"],
            "artifact_s3_endpoint_url": s3.url,
            "artifact_s3_access_key_id": SecretStr("test"),
            "artifact_s3_secret_access_key": SecretStr("test"),
            "argo_server_url": argo.url,
            "artifact_max_bytes": 64 * 1024,
            "artifact_unpack_max_total_bytes": 1024 * 1024,
        }
    )


def _record() -> bytes:
    doc = json.loads(PARAMS.read_text())
    params = {"repository": REPO, "issue_number": "3", "head_sha": SHA, "pr_number": str(PR)}
    doc["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in params.items()]}
    return json.dumps(doc).encode()


def _post(url: str, offset: int) -> httpx.Response:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": f"partition:0/offset:{offset}",
        "ce-source": "/apis/v1/namespaces/codex-judge/kafkasources/argo#argo.workflows.completions",
        "ce-type": "dev.knative.kafka.event",
    }
    return httpx.post(url, headers=headers, content=_record(), timeout=30)


def _artifacts(db: Database, run_id: int) -> dict[str, dict[str, Any]]:
    with db.transaction() as tx:
        rows = tx.all(
            "SELECT name, fetch_status, fetched_from, size_bytes, sha256, truncated, findings,"
            " manifest, excerpts, files FROM codex_judge.artifacts WHERE run_id = :id",
            id=run_id,
        )
    return {row["name"]: row for row in rows}


@pytest.mark.usefixtures("github")
def test_run_complete_reads_records_and_the_judge_decides_from_the_real_log(
    function_url: Any, db: Database, s3: FaultingS3Proxy, deps: Container, capsys: Any
) -> None:
    resp = _post(function_url("run_complete"), 1)
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["run_id"]
    rows = _artifacts(db, run_id)

    changes = rows["first-on-completion-1"]
    assert (changes["fetch_status"], changes["fetched_from"]) == ("fetched", "s3")
    assert changes["sha256"] == hashlib.sha256(CHANGES).hexdigest()
    assert changes["size_bytes"] == len(CHANGES)
    assert {(f["kind"], f["member"]) for f in changes["findings"]} == {
        ("path_traversal", "../../escape.sh"),
        ("link", "creds"),
    }
    assert {f["path"] for f in changes["files"]} == {"metadata/manifest.json", "changes.patch"}
    assert changes["manifest"]["session"] == "0199a213-81c0-7800-8aa1-bbab2a035a53"

    bomb = rows["first-on-completion-2"]
    assert bomb["fetch_status"] == "fetched"
    assert [f["kind"] for f in bomb["findings"]] == ["too_large"]

    big = rows["second-on-completion"]
    assert (big["fetch_status"], big["truncated"], big["size_bytes"]) == (
        "truncated",
        True,
        len(BIG),
    )
    assert big["sha256"] == hashlib.sha256(BIG[: 64 * 1024]).hexdigest()

    via_argo = rows["on-deletion"]
    assert (via_argo["fetch_status"], via_argo["fetched_from"]) == ("fetched", "argo-server")

    logs = rows["main-logs"]
    kinds = [e["kind"] for e in logs["excerpts"]]
    assert kinds == ["traceback", "failing_test", "patch_apply_failure"]
    assert all("ghp_" not in e["text"] for e in logs["excerpts"])

    with db.transaction() as tx:
        run = tx.one("SELECT notify_payload FROM codex_judge.runs WHERE id = :id", id=run_id)
    assert run is not None
    payload = run["notify_payload"]
    assert payload["manifest"]["prompt"] == "Implement issue 42: add a --dry-run flag"
    assert "[main-logs/main.log (patch_apply_failure)]" in payload["artifact_log_excerpt"]

    # The same completion again (Argo repeats UPDATE events): nothing is read twice.
    s3.requests.clear()
    assert _post(function_url("run_complete"), 2).status_code == 200
    assert s3.requests == []

    # The judge decides from the run's own log: notify never sent a log excerpt.
    decided = run_completed(function_url("judge"), run_id)
    assert decided.status_code == 200, decided.text
    assert decided.json()["reasons"][0]["code"] == "patch_apply_failed"

    # explain names where every file list and excerpt came from.
    os.environ["DATABASE_URL"] = deps.settings.database_url or ""
    try:
        assert cmd_explain(argparse.Namespace(run=run_id)) == 0
    finally:
        del os.environ["DATABASE_URL"]
    out = capsys.readouterr().out
    assert "patch_apply_failed" in out
    assert (
        f"first-on-completion-1: fetched, from s3 s3://my-bucket-2/first-on-completion-1, "
        f"{len(CHANGES)} bytes, sha256 {hashlib.sha256(CHANGES).hexdigest()[:16]}…"
    ) in out
    assert "refused path_traversal '../../escape.sh'" in out
    assert "refused link 'creds': symbolic link to '/var/run/secrets/token'" in out
    assert "file list (2 file(s), source first-on-completion-1/metadata/manifest.json)" in out
    assert "excerpt from main-logs/main.log (traceback):" in out
    assert "on-deletion: fetched, from argo-server /artifact-files/argo/workflows/" in out
    assert "second-on-completion: truncated" in out
    assert "ghp_" not in out
