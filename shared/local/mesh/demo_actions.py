"""``make run``'s actions on verdicts (issue 5): a verified deploy, a reverted deploy, reruns
that escalate, and a prompt-tuning pull request — on the fakes, end to end.

Three scenario repositories, each a re-keyed copy of a recorded pull request (distinct
``node_id`` so the revert mutation finds the right one) with its own policy pack; every one is
on the GitHub write allow-list and runs with ``dry_run`` off:

1. **verified deploy** — ``Codertocat/Hello-World-deploy`` (the recorded green PR): judged
   ``pass`` → merged at the judged SHA → Argo CD syncs the merge commit (fake Argo CD) → the
   verification WorkflowTemplate is submitted to the fake Argo, which finishes it
   ``Succeeded`` and publishes its completion to Kafka as the Argo Events sensor does →
   run-complete → deploy → ``deploy.verified`` → run ``completed`` → Discord success notice;
2. **reverted deploy** — ``Codertocat/Hello-World-revert``: the same, but the verification
   ends ``Failed`` (the recorded failed DAG, whose failed steps become the failing tests) →
   one ``revertPullRequest`` → run ``needs_iteration`` ``post_deploy_failed``;
3. **reruns, then escalation, and a prompt-tuning PR** — ``derekg1729/test-repo-rerun`` (the
   recorded failing check run): ``needs_iteration`` → rerun submitted to Argo after a 1 s
   durable backoff → the fake cluster finishes it → a new run (attempt 2) on the same PR and
   SHA fails the same way (``repeated_failure_outcome: needs_iteration`` keeps iterating) →
   attempt 3 → ``needs_human`` ``attempts_exhausted``. The third failed evaluation reaches
   ``prompt_tuning_threshold`` 3: one prompt-tuning PR, body from the repository's PR
   template, branched from the base SHA GitHub's ``pull_request`` delivery for the PR
   projected (:func:`action_webhooks`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from shared.argo import load_document, payload_from_workflow
from shared.local.fakes.argocd import application
from shared.local.mesh.replay import broker_base

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "corpus"
TOPIC = "argo.workflows.completions"
AI_REVIEWER = "chatgpt-codex-connector[bot]"

DEPLOY_REPO = "Codertocat/Hello-World-deploy"
REVERT_REPO = "Codertocat/Hello-World-revert"
RERUN_REPO = "derekg1729/test-repo-rerun"
VERIFY_TEMPLATES = {
    DEPLOY_REPO: "verify-hello-world-deploy",
    REVERT_REPO: "verify-hello-world-revert",
}
APPLICATIONS = {DEPLOY_REPO: "hello-world-deploy", REVERT_REPO: "hello-world-revert"}
#: The WorkflowTemplate reruns go to (``Settings.rerun_workflow_template``'s default).
RERUN_TEMPLATE = "codex-autonomous"
PR_TEMPLATE = "## What\n\n## Why\n\n## Checklist\n- [ ] tests pass\n"


def _deploy_policy(repository: str) -> dict[str, Any]:
    return {
        "dry_run": False,
        "ai_reviewer_logins": [AI_REVIEWER],
        "deploy_mode": "argocd",
        "argocd_application": APPLICATIONS[repository],
        "verify_workflow_template": VERIFY_TEMPLATES[repository],
        "deploy_timeout_s": 120,
    }


#: The scenario repositories' policy packs (``codex_judge.policies`` rows).
ACTION_POLICIES: dict[str, dict[str, Any]] = {
    DEPLOY_REPO: _deploy_policy(DEPLOY_REPO),
    REVERT_REPO: _deploy_policy(REVERT_REPO),
    RERUN_REPO: {
        "dry_run": False,
        "ai_reviewer_logins": [AI_REVIEWER],
        "rerun_target": "argo",
        "max_attempts": 3,
        "backoff_s": [1, 1],
        "repeated_failure_outcome": "needs_iteration",
        "prompt_tuning_threshold": 3,
    },
}
#: The repositories the functions may write to (``Mesh(write_allowlist=...)``).
WRITE_ALLOWLIST = list(ACTION_POLICIES)


def _rekey(pull: dict[str, Any], repository: str) -> dict[str, Any]:
    copied = copy.deepcopy(pull)
    copied["base"]["repo"]["full_name"] = copied["head"]["repo"]["full_name"] = repository
    copied["node_id"] = f"{pull['node_id']}-{repository.rsplit('-', 1)[-1]}"
    copied["html_url"] = f"https://github.com/{repository}/pull/{pull['number']}"
    return copied


#: Scenario repository → the recorded ``owner/name#number`` it copies.
SOURCES = {
    DEPLOY_REPO: "Codertocat/Hello-World#2",
    REVERT_REPO: "Codertocat/Hello-World#2",
    RERUN_REPO: "derekg1729/test-repo#315",
}


def add_action_repos(state: dict[str, Any]) -> dict[str, Any]:
    """Add the scenario repositories to a fake GitHub ``state`` built from the recorded PRs
    (``github_state()``); returns ``state``."""
    for repository, source in SOURCES.items():
        origin, _, number = source.partition("#")
        pull = _rekey(state["pulls"][source], repository)
        sha = pull["head"]["sha"]
        state["pulls"][f"{repository}#{number}"] = pull
        state["pull_files"][f"{repository}#{number}"] = copy.deepcopy(state["pull_files"][source])
        state["check_runs"][f"{repository}@{sha}"] = copy.deepcopy(
            state["check_runs"][f"{origin}@{sha}"]
        )
        state["reviews"][f"{repository}#{number}"] = copy.deepcopy(state["reviews"][source])
    base = state["pulls"][f"{RERUN_REPO}#315"]["base"]["ref"]
    contents = state.setdefault("contents", {})
    contents[RERUN_REPO] = {base: {".github/pull_request_template.md": {"content": PR_TEMPLATE}}}
    return state


def action_webhooks(secret: str) -> list[dict[str, Any]]:
    """GitHub's ``pull_request`` delivery for the rerun scenario's PR: the recorded
    ``synchronize`` delivery of derekg1729/test-repo#315 re-keyed to :data:`RERUN_REPO`, with a
    new delivery id and signed with ``secret`` (``X-Hub-Signature-256``: HMAC-SHA256 of the
    body, GitHub "Validating webhook deliveries"). It projects the PR's base branch and SHA,
    which the prompt-tuning branch starts from."""
    recorded = _recorded("github-webhooks/pull_request.synchronize.cogni-delivery.json")
    origin = SOURCES[RERUN_REPO].partition("#")[0]
    # Every full name and URL of the repository, and its short name, in one pass each.
    body = base64.b64decode(recorded["body_raw_base64"]).replace(
        origin.encode(), RERUN_REPO.encode()
    )
    short = (f'"name":"{origin.split("/")[1]}"', f'"name":"{RERUN_REPO.split("/")[1]}"')
    body = body.replace(short[0].encode(), short[1].encode())
    headers = dict(recorded["headers"])
    headers["x-github-delivery"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo/{RERUN_REPO}"))
    headers["x-hub-signature-256"] = (
        "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    )
    headers.pop("x-hub-signature", None)  # the SHA-1 signature would no longer match
    return [{"headers": headers, "body_raw_base64": base64.b64encode(body).decode()}]


def action_completions(state: dict[str, Any], first_offset: int) -> list[dict[str, Any]]:
    """Kafka records of the three scenario runs' first attempts (offsets from
    ``first_offset``), built from recorded Workflows with our run metadata as parameters."""
    sources = {
        DEPLOY_REPO: ("argo/workflow.succeeded.wftref-arguments.yaml", 21),
        REVERT_REPO: ("argo/workflow.succeeded.wftref-arguments.yaml", 22),
        RERUN_REPO: ("argo/workflow.succeeded.subdag-params-s3.yaml", 316),
    }
    records = []
    for n, (repository, (path, issue)) in enumerate(sources.items()):
        number = 315 if repository == RERUN_REPO else 2
        pull = state["pulls"][f"{repository}#{number}"]
        workflow = _recorded(path)
        # A distinct workflow per scenario: the recorded uid and name, suffixed.
        workflow["metadata"]["uid"] = f"{workflow['metadata']['uid'][:-4]}{n + 1:04d}"
        workflow["metadata"]["name"] = f"{workflow['metadata']['name']}-{n + 1}"
        params = workflow.setdefault("spec", {}).setdefault("arguments", {})
        params.setdefault("parameters", []).extend(
            {"name": k, "value": str(v)}
            for k, v in {
                "repository": repository,
                "issue_number": issue,
                "pr_number": number,
                "head_sha": pull["head"]["sha"],
                "head_ref": pull["head"]["ref"],
                "base_ref": pull["base"]["ref"],
                "attempt": 1,
            }.items()
        )
        records.append(
            {
                "kafka": {
                    "topic": TOPIC,
                    "key": workflow["metadata"]["uid"],
                    "offset": first_offset + n,
                },
                "value": payload_from_workflow(workflow),
            }
        )
    return records


def _recorded(path: str) -> Any:
    """A recorded corpus document, timestamps kept as the text they were recorded as."""
    return load_document((CORPUS / path).read_text())


def argo_state(broker_url: str, rerun_template: str = RERUN_TEMPLATE) -> dict[str, Any]:
    """The fake Argo's state: the cluster finishes verifications and reruns and the sensor
    publishes each completion to the broker's KafkaSource endpoint."""
    return {
        "complete": {
            "sink": f"{broker_base(broker_url)}/_mesh/kafka/{TOPIC}",
            "phases": {
                VERIFY_TEMPLATES[DEPLOY_REPO]: "Succeeded",
                VERIFY_TEMPLATES[REVERT_REPO]: "Failed",
                rerun_template: "Succeeded",
            },
            "delay_s": 0.5,
            "templates": {
                "Succeeded": _recorded("argo/workflow.succeeded.wftref-arguments.yaml"),
                "Failed": _recorded("argo/workflow.failed.dag-disable-fail-fast.yaml"),
            },
        }
    }


def argocd_state(github: dict[str, Any]) -> dict[str, Any]:
    """The fake Argo CD's state: one Application per deploy scenario, synced at the base."""
    apps = {}
    for repository, name in APPLICATIONS.items():
        base_sha = github["pulls"][f"{repository}#2"]["base"]["sha"]
        apps[name] = application(name, revision=base_sha)
    return {"applications": apps}


def configure_fakes(urls: dict[str, Any], github: dict[str, Any], rerun_template: str) -> None:
    """PUT the scenario's state into the fake GitHub, Argo and Argo CD of a running mesh."""
    fakes = urls["fakes"]
    with httpx.Client(timeout=10) as client:
        client.put(f"{fakes['github']}/_fake/state", json=github).raise_for_status()
        client.put(
            f"{fakes['argo']}/_fake/state", json=argo_state(urls["broker"], rerun_template)
        ).raise_for_status()
        client.put(f"{fakes['argocd']}/_fake/state", json=argocd_state(github)).raise_for_status()


SQL_PENDING = """
SELECT
  (SELECT count(*) FROM codex_judge.runs
    WHERE repository = ANY(:repos) AND active) AS active,
  (SELECT count(DISTINCT repository) FROM codex_judge.runs
    WHERE repository = ANY(:repos)) AS seen,
  (SELECT count(*) FROM codex_judge.runs
    WHERE repository = :rerun_repo AND status = 'needs_human') AS escalated
"""


def wait_actions(database_url: str, timeout_s: float = 90.0) -> bool:
    """Poll until every scenario run has concluded and the rerun scenario has escalated."""
    from shared.db import Database

    db = Database(database_url, size=1)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with db.transaction() as tx:
                row = tx.one(SQL_PENDING, repos=WRITE_ALLOWLIST, rerun_repo=RERUN_REPO) or {}
            if row.get("seen") == len(WRITE_ALLOWLIST) and not row["active"] and row["escalated"]:
                return True
            time.sleep(0.3)
        return False
    finally:
        db.close()


def recorded_actions(urls: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every side effect the fakes of a running mesh recorded, by kind.

    Returns:
        ``{"merges", "reverts", "prompt_tuning_pulls", "argo_submissions", "argo_completions",
        "argocd_syncs", "facteur_tasks", "discord_messages"}``, each a list in recorded order
        (``prompt_tuning_pulls``: pull requests the fake GitHub created that are not reverts).
    """
    fakes = urls["fakes"]
    with httpx.Client(timeout=10) as client:
        state = {name: client.get(f"{url}/_fake/state").json() for name, url in fakes.items()}
    github = state.get("github", {})
    reverted = {r["id"] for r in github.get("reverts", [])}
    return {
        "merges": list(github.get("merges", [])),
        "reverts": list(github.get("reverts", [])),
        "prompt_tuning_pulls": [
            p for p in github.get("created_pulls", []) if p.get("node_id") not in reverted
        ],
        "argo_submissions": list(state.get("argo", {}).get("submissions", [])),
        "argo_completions": list(state.get("argo", {}).get("completions", [])),
        "argocd_syncs": list(state.get("argocd", {}).get("syncs", [])),
        "facteur_tasks": list(state.get("facteur", {}).get("tasks", [])),
        "discord_messages": list(state.get("discord", {}).get("messages", [])),
    }


def _labels(submission: dict[str, Any]) -> dict[str, str]:
    raw = str((submission.get("submitOptions") or {}).get("labels") or "")
    return dict(pair.split("=", 1) for pair in raw.split(",") if "=" in pair)


def _submission_line(submission: dict[str, Any], completion: dict[str, Any] | None) -> str:
    labels = _labels(submission)
    template = submission.get("resourceName")
    if "codex-judge.io/verifies-run" in labels:
        what = f"verification of run {labels['codex-judge.io/verifies-run']}"
    elif "codex-judge.io/rerun-of" in labels:
        what = (
            f"rerun of run {labels['codex-judge.io/rerun-of']}, attempt "
            f"{labels.get('codex-judge.io/attempt')}"
        )
    else:
        what = "workflow"
    phase = completion["phase"] if completion else "not finished"
    return f"{template}: {what} → {phase}"


def render_actions(actions: dict[str, list[dict[str, Any]]]) -> str:
    """The "actions on verdicts" section ``make run`` prints after the runs table."""
    lines = ["Actions on verdicts (as the fakes recorded them):"]

    def section(title: str, items: list[Any], line: Any) -> None:
        lines.append(f"  {title}: {len(items)}")
        lines.extend(f"    {line(item)}" for item in items)

    section(
        "merges",
        actions["merges"],
        lambda m: (
            f"{m['repository']}#{m['number']} at {str(m['sha'])[:8]} ({m['merge_method']})"
            f" → merge commit {m['merge_commit_sha'][:8]}"
        ),
    )
    section(
        "Argo CD syncs", actions["argocd_syncs"], lambda s: f"revision {str(s.get('revision'))[:8]}"
    )
    finished = list(actions["argo_completions"])
    section(
        "Argo workflow submissions (verifications, reruns)",
        actions["argo_submissions"],
        lambda s: _submission_line(s, _pop_completion(finished, s)),
    )
    section(
        "reverts",
        actions["reverts"],
        lambda r: f"#{r['reverted_number']} reverted by #{r['number']}: {r['title']}",
    )
    section(
        "prompt-tuning PRs",
        actions["prompt_tuning_pulls"],
        lambda p: f"{p['html_url']}: {p['title']}",
    )
    section("Facteur tasks", actions["facteur_tasks"], lambda t: t.get("delivery_id"))
    section(
        "Discord messages",
        actions["discord_messages"],
        lambda m: str(m.get("content") or "").split("\n", 1)[0],
    )
    return "\n".join(lines)


def _pop_completion(
    finished: list[dict[str, Any]], submission: dict[str, Any]
) -> dict[str, Any] | None:
    """The recorded completion of the workflow ``submission`` created (consumed once)."""
    labels = _labels(submission)
    for n, completion in enumerate(finished):
        submitted = {k: v for k, v in (completion.get("labels") or {}).items() if k in labels}
        if completion.get("template") == submission.get("resourceName") and submitted == labels:
            return finished.pop(n)
    return None
