"""Each function's local process derived from its Knative Service in the kustomize build, with
the named differences from the cluster and nothing else."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from shared.local.mesh.cluster import LocalCluster, function_processes
from shared.local.mesh.kustomize import ClusterBuildError, kustomize_build, services
from tests.conftest import ROOT

DB = "postgresql://codex_judge_app@/cj?host=/tmp/socket"
BROKER = "http://127.0.0.1:9/codex-judge/codex-judge"


@pytest.fixture(scope="module")
def build() -> list[dict[str, Any]]:
    return kustomize_build(ROOT, "dev")


def local(tmp_path: Path, **overrides: Any) -> LocalCluster:
    fields: dict[str, Any] = {
        "database_url": DB,
        "broker_url": BROKER,
        "data_dir": tmp_path,
        "secrets": {"codex-judge-secrets": {"CODEX_JUDGE_GITHUB_TOKEN": "ghp_local"}},
        "inherited": {"PATH": "/usr/bin", "K_SINK": "http://set-by-hand", "KEEP": "1"},
    }
    return LocalCluster(**{**fields, **overrides})


def test_each_service_runs_its_container_command_with_the_env_its_manifest_declares(
    build: list[dict[str, Any]], tmp_path: Path
) -> None:
    processes = function_processes(build, local(tmp_path))
    served = {name for name, p in processes.items() if p.serves_http}
    assert served == {s["metadata"]["name"] for s in services(build)}
    assert set(processes) - served == {"agent-ingest"}  # the Deployment: no port, no probe
    judge = processes["judge"]
    assert Path(judge.command[0]).name == "codex-judge" and judge.command[1:] == ("serve",)
    env = judge.env
    assert env["FUNCTION_SOURCE"] == "functions/judge/main.py"
    assert (env["FUNCTION_TARGET"], env["FUNCTION_SIGNATURE_TYPE"]) == ("handle", "http")
    assert (env["WORKERS"], env["THREADS"]) == ("2", "1")  # as declared, not invented
    assert judge.container_concurrency == 2
    assert env["CODEX_JUDGE_DB_POOL_SIZE"] == "3"
    assert env["CODEX_JUDGE_LOG_LEVEL"] == "DEBUG"  # the dev overlay's ConfigMap (envFrom)
    assert env["DATABASE_URL"] == DB  # the CNPG app Secret's stand-in
    assert env["KEEP"] == "1"  # inherited
    for dropped in ("PGSSLMODE", "PGSSLROOTCERT", "CODEX_JUDGE_DB_HOST"):
        assert dropped not in env  # database TLS is the cluster's (a named difference)
    secrets_dir = Path(env["CODEX_JUDGE_SECRETS_DIR"])
    assert secrets_dir.is_relative_to(tmp_path)
    assert (secrets_dir / "CODEX_JUDGE_GITHUB_TOKEN").read_text() == "ghp_local"
    assert Path(env["CODEX_JUDGE_DATA_DIR"]).is_relative_to(tmp_path)  # the /tmp emptyDir
    ingest = processes["agent-ingest"]
    assert ingest.command[1:] == ("agents", "ingest") and ingest.sink is None
    assert (ingest.env["CODEX_JUDGE_AGENTS_STREAM"], ingest.env["DATABASE_URL"]) == (
        "agent-comms",
        DB,
    )


def test_only_services_a_sink_binding_selects_get_k_sink_never_one_set_by_hand(
    build: list[dict[str, Any]], tmp_path: Path
) -> None:
    processes = function_processes(build, local(tmp_path))
    bound = {name for name, p in processes.items() if p.sink is not None}
    assert bound == {
        "api",
        "ci-status",
        "deploy",
        "github-webhook",
        "judge",
        "merge",
        "rerun",
        "review-gate",
        "scheduler",
    }
    assert processes["ci-status"].env["K_SINK"] == BROKER
    assert "K_SINK" not in processes["discord"].env


def test_upstreams_and_extra_env_override_the_config_map(
    build: list[dict[str, Any]], tmp_path: Path
) -> None:
    cluster = local(
        tmp_path,
        upstreams={"CODEX_JUDGE_GITHUB_API_URL": "http://127.0.0.1:7"},
        extra_env={"CODEX_JUDGE_LOG_LEVEL": "WARNING"},
    )
    env = function_processes(build, cluster)["merge"].env
    assert env["CODEX_JUDGE_GITHUB_API_URL"] == "http://127.0.0.1:7"
    assert env["CODEX_JUDGE_LOG_LEVEL"] == "WARNING"


def test_a_missing_config_map_or_secret_fails_locally_naming_it(
    build: list[dict[str, Any]], tmp_path: Path
) -> None:
    without_config = [o for o in build if o["metadata"]["name"] != "codex-judge-config"]
    with pytest.raises(ClusterBuildError, match="envFrom ConfigMap 'codex-judge-config'"):
        function_processes(without_config, local(tmp_path))
    with pytest.raises(ClusterBuildError, match="Secret 'codex-judge-secrets' has no local"):
        function_processes(build, local(tmp_path, secrets={}))


def test_env_values_expand_kubernetes_variable_references(
    build: list[dict[str, Any]], tmp_path: Path
) -> None:
    objects = copy.deepcopy(build)
    notify = next(o for o in services(objects) if o["metadata"]["name"] == "notify")
    container = notify["spec"]["template"]["spec"]["containers"][0]
    container["env"] += [
        {"name": "GREETING", "value": "$(CODEX_JUDGE_FUNCTION_NAME) says $$(hi)"},
        {
            "name": "OPTIONAL",
            "valueFrom": {"secretKeyRef": {"name": "x", "key": "y", "optional": True}},
        },
    ]
    env = function_processes(objects, local(tmp_path))["notify"].env
    assert env["GREETING"] == "notify says $(hi)"
    assert "OPTIONAL" not in env
