"""The Dockerfile builds the image the cluster runs (issue 8), read with a real Dockerfile parser.

No Docker engine is needed: these are the properties a Knative Service with a read-only root
filesystem and ``runAsNonRoot`` relies on, checked on the parsed instructions.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def parser() -> DockerfileParser:
    return DockerfileParser(path=str(ROOT / "Dockerfile"), env_replace=True)


def _stages(parser: DockerfileParser) -> list[list[dict[str, Any]]]:
    """The instructions of each stage, FROM first; comments and global ARGs left out."""
    stages: list[list[dict[str, Any]]] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            stages.append([])
        if stages and item["instruction"] != "COMMENT":
            stages[-1].append(item)
    return stages


def _values(stage: list[dict[str, Any]], instruction: str) -> list[str]:
    return [str(item["value"]) for item in stage if item["instruction"] == instruction]


def _pip_installs(parser: DockerfileParser) -> list[list[str]]:
    """The arguments after ``install`` of every ``pip … install`` in any RUN."""
    installs = []
    for stage in _stages(parser):
        for run in _values(stage, "RUN"):
            for command in run.split("&&"):
                words = shlex.split(command)
                if "pip" in words and "install" in words:
                    installs.append(words[words.index("install") + 1 :])
    return installs


def test_both_stages_build_on_the_slim_python_the_code_targets(parser: DockerfileParser) -> None:
    assert parser.is_multistage
    assert parser.parent_images == ["python:3.11-slim-bookworm"] * 2


def test_the_container_runs_codex_judge_serve_as_a_numeric_non_root_user(
    parser: DockerfileParser,
) -> None:
    final = _stages(parser)[-1]
    (user,) = _values(final, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)
    (entrypoint,) = _values(final, "ENTRYPOINT")
    (cmd,) = _values(final, "CMD")
    assert json.loads(entrypoint) + json.loads(cmd) == ["codex-judge", "serve"]
    assert _values(final, "EXPOSE") == ["8080"]


def test_only_the_runtime_dependencies_are_installed_never_dev_or_local(
    parser: DockerfileParser,
) -> None:
    installs = _pip_installs(parser)
    assert installs, "the Dockerfile installs the wheel with pip"
    for args in installs:
        assert "-e" not in args and "--editable" not in args
        assert not [arg for arg in args if "[" in arg], f"an extra is installed: {args}"
    assert any(arg.endswith(".whl") for args in installs for arg in args)


def test_the_image_ships_compiled_bytecode_and_copies_only_the_venv(
    parser: DockerfileParser,
) -> None:
    builder, final = _stages(parser)
    assert any("compileall" in run and "/opt/codex-judge" in run for run in _values(builder, "RUN"))
    assert _values(final, "COPY") == ["--from=builder /opt/codex-judge /opt/codex-judge"]
    assert _values(final, "RUN") == []


def test_everything_that_writes_points_at_tmp_for_a_read_only_root_filesystem(
    parser: DockerfileParser,
) -> None:
    env = parser.envs  # the final stage's environment
    assert env["PATH"].startswith("/opt/codex-judge/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    for name in ("HOME", "TMPDIR", "CODEX_JUDGE_DATA_DIR"):
        assert env[name] == "/tmp" or env[name].startswith("/tmp/"), name


def test_the_image_carries_oci_labels(parser: DockerfileParser) -> None:
    labels = parser.labels
    assert labels["org.opencontainers.image.title"] == "codex-judge"
    for key in ("version", "revision", "licenses", "description"):
        assert labels[f"org.opencontainers.image.{key}"], key
