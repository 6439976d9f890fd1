"""Ports: what the use cases need from the outside world (DESIGN §7).

Adapters (``shared/adapters``) implement these over HTTP, and the container
(:mod:`shared.bootstrap`) is the only code that builds them; fakes (``shared/local/fakes``) are
HTTP servers that speak the same wire protocol, so one contract suite runs against both. (The
offline :class:`~shared.memories.embedder.HashingEmbedder` is an :class:`Embedder` without
I/O.)
Every method raises :class:`shared.errors.TransientError` subclasses for failures a retry may
cure (``RateLimitedError`` with ``retry_after`` seconds, ``UpstreamError`` for 5xx/timeouts)
and :class:`shared.errors.PermanentError` subclasses for answers that will not change.
An API error is never returned as an empty result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.argo.workflow import SubmittedWorkflow
from shared.models.argocd import ApplicationState
from shared.models.github import (
    CheckRun,
    CheckSuite,
    CombinedStatus,
    CommitChecks,
    Comparison,
    GitTree,
    PullFile,
    PullLive,
    PullRequest,
    PullReviews,
    Review,
    ReviewThread,
)

if TYPE_CHECKING:
    from shared.facteur.codex_task_pb2 import CodexTask
    from shared.runtime.envelope import OutgoingEvent


class GitHub(Protocol):
    """Reads from the GitHub REST and GraphQL APIs. ``repo`` is ``owner/name``."""

    def get_pull(self, repo: str, number: int) -> PullRequest | None:
        """``GET /repos/{repo}/pulls/{number}``; None when GitHub answers 404."""

    def get_pull_diff(self, repo: str, number: int, head_sha: str | None = None) -> str | None:
        """``GET /repos/{repo}/pulls/{number}`` as ``application/vnd.github.diff``; None on 404;
        with ``head_sha``, read once per (repository, pull request, head SHA)."""

    def list_pull_files(self, repo: str, number: int) -> list[PullFile]:
        """Every page of ``GET /repos/{repo}/pulls/{number}/files``."""

    def list_check_runs(self, repo: str, sha: str) -> list[CheckRun]:
        """Every page of ``GET /repos/{repo}/commits/{sha}/check-runs?per_page=100``."""

    def get_combined_status(self, repo: str, sha: str) -> CombinedStatus:
        """``GET /repos/{repo}/commits/{sha}/status`` (every page of statuses)."""

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Every page of ``GET /repos/{repo}/pulls/{number}/reviews``, oldest first."""

    def list_review_threads(self, repo: str, number: int) -> list[ReviewThread]:
        """Every page of the GraphQL ``pullRequest.reviewThreads`` connection."""

    def list_check_suites(self, repo: str, sha: str) -> list[CheckSuite]:
        """Every page of ``GET /repos/{repo}/commits/{sha}/check-suites?per_page=100``."""

    def compare_commits(self, repo: str, base: str, head: str) -> Comparison:
        """``GET /repos/{repo}/compare/{base}...{head}``: behind/ahead counts, merge base."""

    def commit_checks(self, repo: str, sha: str) -> CommitChecks:
        """A commit's check runs, statuses and check suites in one GraphQL read (ci-status)."""

    def pull_reviews(self, repo: str, number: int) -> PullReviews:
        """A pull request's reviews and review threads in one GraphQL read (review-gate)."""

    def pull_live(self, repo: str, number: int) -> PullLive | None:
        """A pull request's live state in one GraphQL read (the judge, merge's drift check);
        None when GitHub does not know the pull request."""

    def get_tree(self, repo: str, sha: str) -> GitTree:
        """``GET /repos/{repo}/git/trees/{sha}?recursive=1``: every path of a commit with its
        blob SHA (``truncated`` when GitHub cut the listing short)."""

    def get_blob(self, repo: str, sha: str) -> bytes:
        """``GET /repos/{repo}/git/blobs/{sha}``: a blob's bytes, base64-decoded."""


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class ChatResult:
    """One chat completion choice: ``content`` (JSON text for structured output) or
    ``refusal``; ``finish_reason`` stop|length|content_filter|tool_calls; ``usage`` tokens."""

    content: str | None
    refusal: str | None
    finish_reason: str | None
    model: str
    usage: dict[str, Any] = field(default_factory=dict)


class LanguageModel(Protocol):
    """An OpenAI-compatible chat completions endpoint with structured outputs."""

    def complete_json(
        self,
        messages: list[ChatMessage],
        *,
        schema_name: str,
        schema: dict[str, Any],
        model: str | None = None,
    ) -> ChatResult:
        """``POST /chat/completions`` with ``response_format`` ``json_schema`` (strict);
        ``model`` overrides the configured model for this call (policy ``judge_model``)."""


@dataclass(frozen=True)
class DiscordMessage:
    """What Discord acknowledged: the message id (webhook ``?wait=true``) and channel."""

    id: str | None
    channel_id: str | None = None


class Discord(Protocol):
    """A Discord webhook (``POST /api/webhooks/{id}/{token}?wait=true``)."""

    def post(self, content: str, *, nonce: str | None = None) -> DiscordMessage:
        """Post one message of at most 2000 characters. ``nonce`` (at most 25 characters, the
        effect's idempotency key made short) lets Discord answer a repeat with the message it
        already created, where the mode allows it (bot token: "Create Message" with
        ``enforce_nonce``; a webhook has no such field).

        Raises:
            RateLimitedError: 429, with Discord's ``retry_after`` (seconds).
        """


@dataclass(frozen=True)
class WriteAnswer:
    """GitHub's answer to a write that retrying cannot change: the HTTP ``status`` and the JSON
    ``body`` (``{}`` when empty). 2xx is success; 4xx answers such as 405/409/422 are returned
    as values so the use case can record and reason about them (issue 5: "405/409/422 answers
    are decisions, not crashes"). A GraphQL answer is 200 with ``errors`` when it failed.
    """

    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        """True for a 2xx answer without GraphQL ``errors``."""
        return 200 <= self.status < 300 and not self.body.get("errors")

    @property
    def message(self) -> str:
        """GitHub's ``message`` (or the first GraphQL error's), or ``""``."""
        if self.body.get("message"):
            return str(self.body["message"])
        errors = self.body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or "")
        return ""


class GitHubWriter(Protocol):
    """Writes to GitHub (REST and GraphQL). ``repo`` is ``owner/name``.

    Every method returns a :class:`WriteAnswer` for 2xx and for 4xx answers other than rate
    limits, and raises ``RateLimitedError`` (403/429 rate limits) or ``UpstreamError`` (5xx,
    timeouts, 401). Callers go through :mod:`shared.effects.writes` (allow-list, dry run, effects
    outbox and the ``github.write_actions`` audit), never straight to the writer.
    """

    def merge_pull(
        self, repo: str, number: int, *, sha: str, merge_method: str, commit_title: str | None
    ) -> WriteAnswer:
        """``PUT /repos/{repo}/pulls/{number}/merge`` with ``sha`` (409 if the head moved)."""

    def delete_branch(self, repo: str, branch: str) -> WriteAnswer:
        """``DELETE /repos/{repo}/git/refs/heads/{branch}`` (204; 422 when already gone)."""

    def create_ref(self, repo: str, *, ref: str, sha: str) -> WriteAnswer:
        """``POST /repos/{repo}/git/refs`` with ``ref`` = ``refs/heads/<branch>``."""

    def get_contents(self, repo: str, path: str, *, ref: str | None = None) -> WriteAnswer:
        """``GET /repos/{repo}/contents/{path}`` (200 file object with base64 ``content``;
        404 answer when absent). A read, kept here because writers need the file ``sha``."""

    def put_contents(
        self,
        repo: str,
        path: str,
        *,
        message: str,
        content: bytes,
        branch: str,
        sha: str | None = None,
    ) -> WriteAnswer:
        """``PUT /repos/{repo}/contents/{path}``: create (201) or update (200, needs ``sha``)."""

    def create_pull(
        self, repo: str, *, title: str, head: str, base: str, body: str, draft: bool = False
    ) -> WriteAnswer:
        """``POST /repos/{repo}/pulls`` (201; 422 when one already exists for ``head``)."""

    def find_pull(self, repo: str, *, head: str) -> dict[str, Any] | None:
        """The newest pull request (any state) whose head is branch ``head`` of the repository's
        owner: ``GET /repos/{repo}/pulls?head=<owner>:<head>&state=all``; None when there is
        none. How a repeated :meth:`create_pull` (422 "A pull request already exists") finds the
        pull request the first one opened. A read, kept here beside the write it completes."""

    def rerequest_check_suite(self, repo: str, suite_id: int) -> WriteAnswer:
        """``POST /repos/{repo}/check-suites/{suite_id}/rerequest`` (201, empty body): GitHub
        asks the suite's app to run it again ("Check suites: Rerequest a check suite")."""

    def revert_pull(
        self, pull_node_id: str, *, title: str | None = None, body: str | None = None
    ) -> WriteAnswer:
        """GraphQL ``revertPullRequest(input: {pullRequestId, title, body})``: opens a PR that
        reverts a merged PR; the answer's ``data.revertPullRequest.revertPullRequest`` holds
        ``{id, number, url}``."""


class Argo(Protocol):
    """The Argo Workflows server API (``/api/v1/workflows``, Argo Server API reference)."""

    def get_workflow(self, namespace: str, name: str) -> dict[str, Any] | None:
        """``GET /api/v1/workflows/{namespace}/{name}``: the Workflow object; None on 404."""

    def submit(
        self,
        namespace: str,
        template: str,
        *,
        parameters: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        generate_name: str | None = None,
        kind: Literal["WorkflowTemplate", "ClusterWorkflowTemplate"] = "WorkflowTemplate",
        name: str | None = None,
    ) -> SubmittedWorkflow:
        """``POST /api/v1/workflows/{namespace}/submit`` from ``template``. With ``name`` (a
        deterministic :func:`shared.argo.workflow.workflow_name`) a repeat answers the existing
        Workflow instead of starting a second one.

        Raises:
            UpstreamRejectedError: Argo refused the submission (4xx, e.g. unknown template).
        """


class ArgoCD(Protocol):
    """The Argo CD API server (``/api/v1/applications``, Argo CD API reference)."""

    def sync(self, application: str, revision: str) -> ApplicationState:
        """``POST /api/v1/applications/{name}/sync`` to ``revision`` (40-hex Git SHA)."""

    def get_application(self, application: str) -> ApplicationState:
        """``GET /api/v1/applications/{name}``: the Application's current state."""

    def rollback(self, application: str, history_id: int) -> ApplicationState:
        """``POST /api/v1/applications/{name}/rollback`` to ``status.history`` entry
        ``history_id``."""


class Facteur(Protocol):
    """Facteur, which starts Codex tasks (``POST {facteur_url}/codex/tasks``, protobuf)."""

    def submit(self, task: CodexTask) -> dict[str, Any]:
        """Send ``task``; Facteur's JSON answer with ``status_code`` (``{}`` for a non-JSON
        body). A repeated ``delivery_id`` is dropped by Facteur, so a retry is harmless.

        Raises:
            UpstreamRejectedError: Facteur refused the task (4xx other than 408/429).
        """


class Broker(Protocol):
    """The Knative Broker, reached through ``K_SINK`` (a SinkBinding), for a function that
    publishes more than its one reply (DESIGN §4)."""

    def publish(self, event: OutgoingEvent, *, timeout_s: float | None = None) -> None:
        """POST ``event`` in binary mode; ``timeout_s`` seconds, None for the default.

        Raises:
            SinkNotBoundError: no ``K_SINK`` (the Service has no SinkBinding; 503).
            UpstreamError: the sink did not answer 2xx or could not be reached.
        """


class Embedder(Protocol):
    """Turns texts into vectors of one fixed length (memories, DESIGN §7).

    Attributes:
        label: what produced the vectors, stored in every row (``embedder`` column); vectors
            with different labels are never compared.
        kind: a human description of the embedder, stored in each row's metadata.
        dimension: the length of every vector returned.
    """

    label: str
    kind: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector of ``dimension`` floats per text, in order.

        Raises:
            TransientError: the embedding service failed (retry later; store nothing).
            PermanentError: the service refused the request or answered another dimension.
        """
        ...
