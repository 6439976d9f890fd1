"""The GitHub objects we read, shaped as the REST and GraphQL APIs return them.

Only the fields we use are declared; everything else is ignored. Sources: GitHub REST
"Check runs" (``GET /repos/{owner}/{repo}/commits/{ref}/check-runs``), "Commit statuses"
(``GET /repos/{owner}/{repo}/commits/{ref}/status``), "Pulls" and "Reviews", and the GraphQL
``PullRequestReviewThread`` object.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _GitHubObject(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class App(_GitHubObject):
    id: int | None = None
    slug: str | None = None


class User(_GitHubObject):
    login: str
    type: str | None = None


class SuiteRef(_GitHubObject):
    """The ``check_suite`` a check run belongs to (only its id is read)."""

    id: int


class CheckRun(_GitHubObject):
    """A check run; ``status`` is queued|in_progress|completed|waiting|requested|pending and
    ``conclusion`` (when completed) success|failure|neutral|cancelled|skipped|timed_out|
    action_required|stale."""

    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    details_url: str | None = None
    html_url: str | None = None
    app: App | None = None
    check_suite: SuiteRef | None = None


class CheckSuite(_GitHubObject):
    """A check suite (``GET /commits/{ref}/check-suites``, webhook ``check_suite``): one per
    GitHub App per commit; ``status`` queued|in_progress|completed, ``conclusion`` as a check
    run's. ``latest_check_runs_count`` is 0 for suites an app created but never ran."""

    id: int
    head_sha: str
    status: str | None = None
    conclusion: str | None = None
    app: App | None = None
    latest_check_runs_count: int | None = None
    updated_at: datetime | None = None


class Commit(_GitHubObject):
    """A commit as the compare endpoint returns it: its SHA and committer date."""

    sha: str
    committed_at: datetime | None = None


class Comparison(_GitHubObject):
    """``GET /repos/{repo}/compare/{base}...{head}``: how far ``head`` is from ``base``.

    ``behind_by`` counts the base branch's commits the head lacks; ``merge_base`` is the
    newest common ancestor; ``base`` is the compared base's own commit (the branch tip)."""

    status: str
    ahead_by: int
    behind_by: int
    merge_base: Commit
    base: Commit


class CommitStatus(_GitHubObject):
    """One context of the combined commit status; ``state`` error|failure|pending|success."""

    id: int | None = None
    context: str
    state: str
    target_url: str | None = None
    description: str | None = None
    updated_at: datetime | None = None
    created_at: datetime | None = None


class CombinedStatus(_GitHubObject):
    """``GET /commits/{ref}/status``: ``state`` is failure|pending|success (pending when empty)."""

    state: str
    sha: str | None = None
    total_count: int = 0
    statuses: list[CommitStatus] = Field(default_factory=list)


class Ref(_GitHubObject):
    ref: str
    sha: str


class PullRequest(_GitHubObject):
    number: int
    state: str
    title: str | None = None
    body: str | None = None
    html_url: str | None = None
    draft: bool | None = None
    merged: bool | None = None
    mergeable: bool | None = None
    mergeable_state: str | None = None
    updated_at: datetime | None = None
    node_id: str | None = Field(default=None, description="GraphQL id (revertPullRequest)")
    merge_commit_sha: str | None = Field(
        default=None, description="once merged: the merge, squash or rebase commit"
    )
    head: Ref
    base: Ref
    user: User | None = None


class PullFile(_GitHubObject):
    """``GET /pulls/{n}/files``: one changed file; ``patch`` is absent for binary/huge files."""

    filename: str
    status: str
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    patch: str | None = None
    previous_filename: str | None = None  # set by GitHub when status is "renamed"


class Review(_GitHubObject):
    """A pull request review; REST ``state`` is APPROVED|CHANGES_REQUESTED|COMMENTED|DISMISSED|
    PENDING (webhooks send it lower-case)."""

    id: int
    user: User | None = None
    state: str
    body: str | None = None
    commit_id: str | None = None
    submitted_at: datetime | None = None


class ReviewComment(_GitHubObject):
    author: str | None = None
    body: str = ""
    url: str | None = None


class ReviewThread(_GitHubObject):
    """GraphQL ``PullRequestReviewThread`` flattened: its first comment is the thread's text."""

    id: str
    is_resolved: bool = Field(alias="isResolved")
    is_outdated: bool = Field(default=False, alias="isOutdated")
    path: str | None = None
    line: int | None = None
    comments: list[ReviewComment] = Field(default_factory=list)


class CommitChecks(_GitHubObject):
    """A commit's CI in one GraphQL read (``statusCheckRollup`` and ``checkSuites``); ``points``
    is the GraphQL rate-limit cost its pages spent."""

    model_config = ConfigDict(frozen=True)

    check_runs: list[CheckRun] = Field(default_factory=list)
    statuses: list[CommitStatus] = Field(default_factory=list)
    suites: list[CheckSuite] = Field(default_factory=list)
    points: int = 0


class PullReviews(_GitHubObject):
    """A pull request's reviews (oldest first) and review threads in one GraphQL read."""

    model_config = ConfigDict(frozen=True)

    reviews: list[Review] = Field(default_factory=list)
    threads: list[ReviewThread] = Field(default_factory=list)
    points: int = 0


class PullLive(_GitHubObject):
    """A pull request's live state in one GraphQL read: the pull request (head/base OIDs,
    ``mergeable``, ``mergeable_state``), its files (without patches), review threads, and the
    head commit's check runs and statuses (``statusCheckRollup``)."""

    model_config = ConfigDict(frozen=True)

    pull: PullRequest
    files: list[PullFile] = Field(default_factory=list)
    threads: list[ReviewThread] = Field(default_factory=list)
    check_runs: list[CheckRun] = Field(default_factory=list)
    statuses: list[CommitStatus] = Field(default_factory=list)
    points: int = 0


class GitTreeEntry(_GitHubObject):
    """One entry of ``GET /repos/{repo}/git/trees/{sha}``: ``type`` is ``blob``, ``tree`` or
    ``commit`` (a submodule); ``sha`` the object's 40-hex SHA-1; ``size`` bytes (blobs only)."""

    path: str
    mode: str = ""
    type: str
    sha: str
    size: int | None = None


class GitTree(_GitHubObject):
    """A recursive tree listing (REST "Git trees"); ``truncated`` when GitHub cut it short
    (over 100,000 entries or 7 MB), so a path missing from it may still exist."""

    sha: str
    tree: list[GitTreeEntry] = Field(default_factory=list)
    truncated: bool = False


class GitBlob(_GitHubObject):
    """``GET /repos/{repo}/git/blobs/{sha}`` (REST "Git blobs"): ``content`` in ``encoding``
    (``base64``, lines wrapped, or ``utf-8``), ``size`` in bytes."""

    sha: str
    size: int = 0
    content: str = ""
    encoding: str = "base64"
