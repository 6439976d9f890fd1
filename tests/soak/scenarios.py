"""The soak's repositories: N copies of the demo's recorded scenarios, one outcome each.

Every repository ``soak/r<NNNN>-<kind>`` copies one recorded pull request of the demo's fake
GitHub state (:func:`shared.local.mesh.demo.github_state`: objects from ``tests/fixtures/corpus``),
gets the policy pack of its kind, and one Argo completion (a recorded Workflow with our run
metadata as parameters and its own uid). The kinds and the outcome each must reach:

========================  ================================================  ====================
kind                      what happens                                      final run
========================  ================================================  ====================
``merge_deploy``          green CI, approved → merge → Argo CD sync →       completed,
                          verification workflow Succeeded                   deploy_verified
``deploy_fail``           the same, verification Failed → one revert PR     needs_iteration,
                                                                            post_deploy_failed
``ci_rerun``              CI fails on every attempt → rerun through Argo    needs_human,
                          4 times (1 s back-off) → attempt 5 escalates      attempts_exhausted
``unresolved``            CI green, the AI reviewer's thread unresolved     needs_iteration
``missing_metadata``      the recorded failed ``onExit`` workflow, no       needs_human,
                          run metadata                                      missing_run_metadata
``ci_timeout``            a required check ``e2e`` never reports (3 s)      needs_iteration,
                                                                            ci_timeout
``dry_pass``              green and approved, dry-run policy                completed
========================  ================================================  ====================

Prompt tuning is disabled on the rerun repositories (it needs a signed ``pull_request``
delivery per repository; the demo covers it).
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.argo import load_document, payload_from_workflow
from shared.local.fakes.argocd import application
from shared.local.mesh import demo, demo_actions

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
TOPIC = "argo.workflows.completions"
VERIFY_OK = "soak-verify-ok"
VERIFY_BAD = "soak-verify-bad"
#: Weights of the mix: of every 11 repositories, 3 merge and deploy, 3 are rerun, …
MIX = {
    "merge_deploy": 3,
    "deploy_fail": 1,
    "ci_rerun": 3,
    "unresolved": 1,
    "missing_metadata": 1,
    "ci_timeout": 1,
    "dry_pass": 1,
}
#: The recorded pull request (``owner/name#number`` of the demo's state) each kind copies.
SOURCE_PULL = {
    "merge_deploy": "Codertocat/Hello-World#2",
    "deploy_fail": "Codertocat/Hello-World#2",
    "ci_rerun": "derekg1729/test-repo#315",
    "unresolved": "kubernetes/kubernetes#66534",
    "ci_timeout": "Codertocat/Hello-World#2",
    "dry_pass": "Codertocat/Hello-World#2",
}
#: The recorded Workflow each kind's completion is built from.
SOURCE_WORKFLOW = {
    "merge_deploy": "argo/workflow.succeeded.wftref-arguments.yaml",
    "deploy_fail": "argo/workflow.succeeded.wftref-arguments.yaml",
    "ci_rerun": "argo/workflow.succeeded.subdag-params-s3.yaml",
    "unresolved": "argo/workflow.succeeded.nested-dag-21-nodes.yaml",
    "missing_metadata": "argo/workflow.failed.onexit-s3-keys.yaml",
    "ci_timeout": "argo/workflow.succeeded.artgc-mixed-s3.yaml",
    "dry_pass": "argo/workflow.succeeded.wftref-arguments.yaml",
}
#: ``(status, reason)`` of each kind's last run; a None reason is not checked.
EXPECTED: dict[str, tuple[str, str | None]] = {
    "merge_deploy": ("completed", "deploy_verified"),
    "deploy_fail": ("needs_iteration", "post_deploy_failed"),
    "ci_rerun": ("needs_human", "attempts_exhausted"),
    "unresolved": ("needs_iteration", None),
    "missing_metadata": ("needs_human", "missing_run_metadata"),
    "ci_timeout": ("needs_iteration", "ci_timeout"),
    "dry_pass": ("completed", None),
}
#: The rerun kind's attempts (the first completion and 4 reruns).
MAX_ATTEMPTS = 5
#: How many runs each kind makes (the rerun kind: attempts 1 to 5).
RUNS_PER_KIND = {kind: MAX_ATTEMPTS if kind == "ci_rerun" else 1 for kind in MIX}


@dataclass(frozen=True)
class SoakRepo:
    """One seeded repository: its kind, PR, issue and the uid of its first completion."""

    index: int
    kind: str
    repository: str
    pr_number: int
    issue_number: int
    workflow_uid: str

    @property
    def application(self) -> str:
        """Its Argo CD Application (deploy kinds)."""
        return f"soak-app-{self.index:04d}"


def plan_repos(count: int, seed: int) -> list[SoakRepo]:
    """``count`` repositories with the :data:`MIX` of kinds in a seeded order."""
    kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]
    rng = random.Random(seed)
    repos = []
    for index in range(count):
        if index % len(kinds) == 0:
            rng.shuffle(kinds)
        kind = kinds[index % len(kinds)]
        source = SOURCE_PULL.get(kind, "Codertocat/Hello-World#2")
        repos.append(
            SoakRepo(
                index=index,
                kind=kind,
                repository=f"soak/r{index:04d}-{kind.replace('_', '-')}",
                pr_number=int(source.rsplit("#", 1)[1]),
                issue_number=1000 + index,
                workflow_uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"soak/{seed}/{index}")),
            )
        )
    return repos


def policy(repo: SoakRepo) -> dict[str, Any] | None:
    """The repository's policy pack (a ``codex_judge.policies`` row), or None for defaults."""
    reviewer = {"ai_reviewer_logins": [demo.AI_REVIEWER]}
    if repo.kind in ("merge_deploy", "deploy_fail"):
        return {
            **reviewer,
            "dry_run": False,
            "deploy_mode": "argocd",
            "argocd_application": repo.application,
            "verify_workflow_template": VERIFY_OK if repo.kind == "merge_deploy" else VERIFY_BAD,
            # Above a chain of crash recoveries (each effect a crashed worker held is taken
            # over when its 60 s lease ends: sync, then verification submit), below the
            # production default of 1800 s. A shorter deadline turns faults into deploy
            # timeouts that a fault-free run never has.
            "deploy_timeout_s": 600,
            # A verification whose completion event arrived while a crashed deploy worker's
            # submission was still unrecorded is found by the reconcile poll: keep it inside
            # the soak's wait for quiescence (production's default is 600 s).
            "reconcile_interval_s": 20,
        }
    if repo.kind == "ci_rerun":
        return {
            **reviewer,
            "dry_run": False,
            "rerun_target": "argo",
            "max_attempts": MAX_ATTEMPTS,
            "backoff_s": [1] * (MAX_ATTEMPTS - 1),
            "repeated_failure_outcome": "needs_iteration",
            "prompt_tuning_enabled": False,
        }
    if repo.kind == "ci_timeout":
        return dict(demo.E2E_POLICY)
    return None


def _rekey(pull: dict[str, Any], repository: str) -> dict[str, Any]:
    copied = copy.deepcopy(pull)
    copied["base"]["repo"]["full_name"] = copied["head"]["repo"]["full_name"] = repository
    copied["node_id"] = f"{pull['node_id']}-{repository}"
    copied["html_url"] = f"https://github.com/{repository}/pull/{pull['number']}"
    return copied


def github_state(repos: list[SoakRepo]) -> dict[str, Any]:
    """The fake GitHub's state: the demo's recorded objects, copied to every soak repository."""
    recorded = demo.github_state()
    state = copy.deepcopy(recorded)
    for repo in repos:
        if repo.kind == "missing_metadata":
            continue
        source = SOURCE_PULL[repo.kind]
        origin = source.partition("#")[0]
        pull = _rekey(recorded["pulls"][source], repo.repository)
        sha = pull["head"]["sha"]
        key = f"{repo.repository}#{repo.pr_number}"
        state["pulls"][key] = pull
        state["pull_files"][key] = copy.deepcopy(recorded["pull_files"][source])
        state["check_runs"][f"{repo.repository}@{sha}"] = copy.deepcopy(
            recorded["check_runs"][f"{origin}@{sha}"]
        )
        state["reviews"][key] = copy.deepcopy(recorded["reviews"][source])
        if source in recorded["review_threads"]:
            state["review_threads"][key] = copy.deepcopy(recorded["review_threads"][source])
    return state


def argo_state(broker_url: str, rerun_template: str) -> dict[str, Any]:
    """The fake Argo's state: the demo's cluster emulation with the soak's templates."""
    state = demo_actions.argo_state(broker_url, rerun_template)
    state["complete"]["phases"] = {
        VERIFY_OK: "Succeeded",
        VERIFY_BAD: "Failed",
        rerun_template: "Succeeded",
    }
    return state


def argocd_state(repos: list[SoakRepo], github: dict[str, Any]) -> dict[str, Any]:
    """The fake Argo CD's state: one Application per deploy repository, synced at the base."""
    apps = {}
    for repo in repos:
        if repo.kind in ("merge_deploy", "deploy_fail"):
            base = github["pulls"][f"{repo.repository}#{repo.pr_number}"]["base"]["sha"]
            apps[repo.application] = application(repo.application, revision=base)
    return {"applications": apps}


def completion(repo: SoakRepo, github: dict[str, Any], offset: int) -> dict[str, Any]:
    """The Kafka record of ``repo``'s first completion, as the sensor publishes it."""
    workflow = load_document((CORPUS / SOURCE_WORKFLOW[repo.kind]).read_text())
    workflow["metadata"]["uid"] = repo.workflow_uid
    workflow["metadata"]["name"] = f"soak-{repo.index:04d}-{repo.kind.replace('_', '-')}"
    if repo.kind != "missing_metadata":
        pull = github["pulls"][f"{repo.repository}#{repo.pr_number}"]
        params = workflow.setdefault("spec", {}).setdefault("arguments", {})
        params.setdefault("parameters", []).extend(
            {"name": k, "value": str(v)}
            for k, v in {
                "repository": repo.repository,
                "issue_number": repo.issue_number,
                "pr_number": repo.pr_number,
                "head_sha": pull["head"]["sha"],
                "head_ref": pull["head"]["ref"],
                "base_ref": pull["base"]["ref"],
                "attempt": 1,
            }.items()
        )
    return {
        "kafka": {"topic": TOPIC, "key": repo.workflow_uid, "offset": offset},
        "value": payload_from_workflow(workflow),
    }


MALFORMED_MARK = "soak_malformed"


def malformed_records(count: int, first_offset: int) -> list[dict[str, Any]]:
    """Kafka records no function can read (a value that is no Workflow, and bytes that are no
    JSON): each must end as a dead letter and nowhere else. Each carries
    :data:`MALFORMED_MARK` in its value so its dead letter can be recognised."""
    records = []
    for n in range(count):
        value: Any = (
            {MALFORMED_MARK: n, "metadata": "not an object"}
            if n % 2 == 0
            else f'{{"{MALFORMED_MARK}": {n}, truncated'
        )
        records.append(
            {
                "kafka": {"topic": TOPIC, "key": f"malformed-{n}", "offset": first_offset + n},
                "value": value,
            }
        )
    return records
