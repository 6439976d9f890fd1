"""The example implementation WorkflowTemplate (issue 13): valid against Argo's own
WorkflowTemplate schema, carrying the run metadata run-complete reads and every artifact the
judge opens, and calling ``codex-judge notify-run`` only with options the command has."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from shared.argo.metadata import run_metadata
from shared.artifacts.manifest import CHANGES_ARCHIVE
from shared.cli.notify_run import add_notify_run_parser
from tests.support.k8s_schemas import findings

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "knative" / "examples" / "codex-implementation.workflowtemplate.yaml"
#: What a submission fills in (Argo substitutes ``{{workflow.parameters.<name>}}``).
SUBMITTED = {
    "repository": "octo/widgets",
    "issue_number": "42",
    "base_ref": "main",
    "head_ref": "codex/issue-42",
    "attempt": "2",
    "prompt": "Fix the widget",
}


def _template() -> dict[str, Any]:
    return dict(yaml.safe_load(EXAMPLE.read_text()))


def _substituted(values: dict[str, str]) -> dict[str, str]:
    return {
        k: re.sub(r"\{\{workflow\.parameters\.(\w+)\}\}", lambda m: SUBMITTED[m[1]], v)
        for k, v in values.items()
    }


def test_the_example_is_valid_against_argos_workflowtemplate_schema() -> None:
    assert findings(_template()) == []
    typo = _template()
    typo["spec"]["templates"][0]["outputs"]["artifacts"][0]["optinal"] = True
    assert findings(typo)  # strict: a misspelt field is an error, not a silent default


def test_a_submitted_workflow_carries_the_run_metadata_run_complete_reads() -> None:
    spec = _template()["spec"]
    declared = {p["name"]: p.get("value") for p in spec["arguments"]["parameters"]}
    assert set(declared) == set(SUBMITTED)
    meta = run_metadata(
        {name: SUBMITTED[name] for name in declared},
        _substituted(spec["workflowMetadata"]["labels"]),
        _substituted(spec["workflowMetadata"]["annotations"]),
    )
    assert (meta.repository, meta.issue_number, meta.base_ref, meta.head_ref, meta.attempt) == (
        "octo/widgets",
        42,
        "main",
        "codex/issue-42",
        2,
    )
    # Labels alone (a workflow resubmitted without parameters) still name the issue.
    labels_only = run_metadata({}, _substituted(spec["workflowMetadata"]["labels"]), {})
    assert labels_only.issue_number == 42 and labels_only.attempt == 2


def test_the_outputs_carry_every_artifact_the_judge_opens() -> None:
    (step,) = _template()["spec"]["templates"]
    artifacts = {a["name"]: a for a in step["outputs"]["artifacts"]}
    assert Path(artifacts["changes"]["path"]).name == CHANGES_ARCHIVE
    assert "none" in artifacts["changes"]["archive"]  # already a tar.gz: not wrapped again
    expected = {"patch", "status", "events", "resume", "notify-payload"}
    expected |= {"implementation-log", "agent-log", "runtime-log"}
    assert expected <= set(artifacts)
    assert all(a.get("optional") for a in artifacts.values())  # a failed run still uploads


def test_notify_run_is_called_only_with_options_the_command_has() -> None:
    (step,) = _template()["spec"]["templates"]
    script = step["container"]["args"][0].replace("\\\n", " ")
    lines = [ln for ln in script.splitlines() if "set --" in ln or "notify-run" in ln]
    tokens = [t for ln in lines for t in shlex.split(ln, comments=True)]
    flags = {t for t in tokens if t.startswith("--") and t != "--"}  # `set --` ends options
    sub = argparse.ArgumentParser().add_subparsers()
    add_notify_run_parser(sub)
    notify = sub.choices["notify-run"]
    known = {s for action in notify._actions for s in action.option_strings}
    assert flags and flags <= known, sorted(flags - known)
    assert {"--workflow-uid", "--head-sha", "--events", "--out"} <= flags
