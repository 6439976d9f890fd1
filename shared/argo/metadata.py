"""Run metadata (repository, issue, head SHA, …) from a workflow's parameters, labels and
annotations.

Each field is taken from the first source that has a usable value, in this order:

1. ``spec.arguments.parameters`` — the names the Codex workflow templates use:

   ============  ==============================================
   field         parameter names (first match wins)
   ============  ==============================================
   repository    ``repository``, ``repo``
   issue_number  ``issue_number``, ``issue``, ``issueNumber``
   head_sha      ``head_sha``, ``head``, ``commit_sha``, ``sha``
   head_ref      ``head_ref``, ``branch``
   base_ref      ``base_ref``, ``base``
   pr_number     ``pr_number``, ``pr``
   pr_url        ``pr_url``
   issue_url     ``issue_url``
   attempt       ``attempt``
   ============  ==============================================

2. ``metadata.labels``, then 3. ``metadata.annotations``, under the keys
   ``codex-judge.io/repository``, ``codex-judge.io/issue-number``, ``codex-judge.io/head-sha``,
   ``codex-judge.io/head-ref``, ``codex-judge.io/base-ref``, ``codex-judge.io/pr-number``,
   ``codex-judge.io/pr-url``, ``codex-judge.io/issue-url`` and ``codex-judge.io/attempt``.
   A Kubernetes label value cannot hold ``/`` (RFC 1123 label syntax), so labels may carry the
   repository as ``codex-judge.io/repository-owner`` + ``codex-judge.io/repository-name``;
   refs and URLs belong in annotations.

Values are normalised: a repository given as a GitHub URL or ``owner/name.git`` becomes
``owner/name``; ``#12`` becomes 12; a ``head`` that is not hex is a branch, so it fills
``head_ref`` instead; ``refs/heads/`` is dropped from refs; ``pr_url``/``issue_url`` fill a
missing repository and number. A value that cannot be read counts as missing (the run then
goes to ``needs_human`` with ``missing_run_metadata``, never dropped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.argo.model import RunMetadata
from shared.runtime.limits import INTEGER_RANGE

LABEL_PREFIX = "codex-judge.io/"

PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "repository": ("repository", "repo"),
    "issue_number": ("issue_number", "issue", "issueNumber"),
    "head_sha": ("head_sha", "head", "commit_sha", "sha"),
    "head_ref": ("head_ref", "branch"),
    "base_ref": ("base_ref", "base"),
    "pr_number": ("pr_number", "pr"),
    "pr_url": ("pr_url",),
    "issue_url": ("issue_url",),
    "attempt": ("attempt",),
}

LABEL_KEYS: dict[str, str] = {
    "repository": "repository",
    "issue_number": "issue-number",
    "head_sha": "head-sha",
    "head_ref": "head-ref",
    "base_ref": "base-ref",
    "pr_number": "pr-number",
    "pr_url": "pr-url",
    "issue_url": "issue-url",
    "attempt": "attempt",
}

_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GITHUB_URL = re.compile(
    r"^https?://[^/]+/(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?"
    r"(?:/(?P<kind>pull|issues)/(?P<number>\d+))?/?$"
)


def _raw_values(
    parameters: Mapping[str, str], labels: Mapping[str, str], annotations: Mapping[str, str]
) -> dict[str, list[str]]:
    """Candidate values per field, in source order."""
    out: dict[str, list[str]] = {name: [] for name in PARAMETER_NAMES}
    for name, aliases in PARAMETER_NAMES.items():
        out[name] += [parameters[a] for a in aliases if parameters.get(a)]
    for source in (labels, annotations):
        for name, key in LABEL_KEYS.items():
            if source.get(LABEL_PREFIX + key):
                out[name].append(source[LABEL_PREFIX + key])
        owner = source.get(LABEL_PREFIX + "repository-owner")
        repo = source.get(LABEL_PREFIX + "repository-name")
        if owner and repo:
            out["repository"].append(f"{owner}/{repo}")
    return out


def repository_name(value: str | None) -> str | None:
    """``owner/name`` from ``owner/name``, ``owner/name.git`` or a GitHub URL; else None."""
    if not value:
        return None
    value = value.strip()
    match = _GITHUB_URL.match(value)
    if match:
        return match.group("repo")
    value = value.removesuffix(".git")
    return value if _REPO.match(value) else None


def positive_int(value: str | int | None) -> int | None:
    """A positive integer from ``12``, ``"12"`` or ``"#12"`` that fits Postgres ``integer``
    (where issue and PR numbers and attempts are stored); else None."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().lstrip("#")
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= INTEGER_RANGE[1] else None


def _ref(value: str) -> str:
    return value.strip().removeprefix("refs/heads/")


def run_metadata(
    parameters: Mapping[str, str], labels: Mapping[str, str], annotations: Mapping[str, str]
) -> RunMetadata:
    """Read :class:`RunMetadata` from the three sources (see the module docstring)."""
    raw = _raw_values(parameters, labels, annotations)
    first_repo = next((r for r in map(repository_name, raw["repository"]) if r), None)
    head_sha = next((v.strip().lower() for v in raw["head_sha"] if _SHA.match(v.strip())), None)
    # `head` is ambiguous in the templates we replace: a SHA or a branch name.
    branch_like = [v for v in raw["head_sha"] if not _SHA.match(v.strip())]
    head_ref = next((_ref(v) for v in [*raw["head_ref"], *branch_like] if v.strip()), None)
    meta = RunMetadata(
        repository=first_repo,
        issue_number=next((n for n in map(positive_int, raw["issue_number"]) if n), None),
        head_sha=head_sha,
        head_ref=head_ref,
        base_ref=next((_ref(v) for v in raw["base_ref"] if v.strip()), None),
        pr_number=next((n for n in map(positive_int, raw["pr_number"]) if n), None),
        pr_url=next((v.strip() for v in raw["pr_url"]), None),
        issue_url=next((v.strip() for v in raw["issue_url"]), None),
        attempt=next((n for n in map(positive_int, raw["attempt"]) if n), None),
    )
    return fill_from_urls(meta)


def fill_from_urls(meta: RunMetadata) -> RunMetadata:
    """Fill a missing repository, PR number or issue number from ``pr_url``/``issue_url``
    (``https://github.com/<owner>/<name>/pull/<n>``, ``…/issues/<n>``)."""
    updates: dict[str, object] = {}
    for url, kind, number_field in (
        (meta.pr_url, "pull", "pr_number"),
        (meta.issue_url, "issues", "issue_number"),
    ):
        match = _GITHUB_URL.match(url or "")
        if not match or match.group("kind") != kind:
            continue
        if not meta.repository and "repository" not in updates:
            updates["repository"] = match.group("repo")
        if getattr(meta, number_field) is None:
            updates[number_field] = int(match.group("number"))
    return meta.model_copy(update=updates) if updates else meta
