"""The findings recorded under a repository's policies: what the deterministic gates found in
each sealed evaluation (``inputs.gate_findings`` — the findings that decided, or would have
decided, the run — and ``inputs.gate_warnings`` — recorded only, per the policy's
``anti_gaming_outcome`` and ``strict`` mode; :meth:`shared.gates.judge.GateReport.record`),
with the hash of the policy in force when the judge recorded them (issue 14 "policy: … the
findings recorded").

Read-only: the judge (:mod:`functions.judge.evaluations`) is the one writer of
``codex_judge.evaluations``. Newest first, keyset-paginated on the evaluation id
(:mod:`shared.operator.pages`), at most ``MAX_PAGE`` evaluations a page; evaluations without a
finding or a warning are not listed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.db import Tx
from shared.operator.pages import MAX_PAGE, decode_cursor, encode_cursor

CURSOR_KIND = "policy-findings"
HASH_PATTERN = r"^[0-9a-f]{64}$"

# jsonb_typeof guards rows whose inputs were recorded before the gates wrote these keys.
SQL_FINDINGS = """
SELECT id, run_id, issue_number, attempt, head_sha, decision, policy_hash, created_at,
       inputs->'gate_findings' AS findings, inputs->'gate_warnings' AS warnings,
       inputs->>'antigaming_source' AS source
FROM codex_judge.evaluations
WHERE repository = :repository
  AND (CAST(:policy_hash AS text) IS NULL OR policy_hash = :policy_hash)
  AND (CAST(:before AS bigint) IS NULL OR id < :before)
  AND ((jsonb_typeof(inputs->'gate_findings') = 'array'
        AND jsonb_array_length(inputs->'gate_findings') > 0)
    OR (jsonb_typeof(inputs->'gate_warnings') = 'array'
        AND jsonb_array_length(inputs->'gate_warnings') > 0))
  AND (CAST(:code AS text) IS NULL
    OR inputs->'gate_findings'
       @> jsonb_build_array(jsonb_build_object('code', CAST(:code AS text)))
    OR inputs->'gate_warnings'
       @> jsonb_build_array(jsonb_build_object('code', CAST(:code AS text))))
ORDER BY id DESC
LIMIT :limit
"""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FindingsQuery(_Model):
    """``GET /api/policies/{owner}/{repo}/findings``: every filter optional; newest first."""

    policy_hash: str | None = Field(
        default=None, pattern=HASH_PATTERN, description="only evaluations under this policy"
    )
    code: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{1,64}$",
        description="only evaluations with a finding of this code (e.g. test_file_deleted)",
    )
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="evaluations per page")
    cursor: str | None = Field(default=None, max_length=100, description="next_cursor of a page")


class RecordedFinding(_Model):
    """One gate finding as the judge recorded it (:class:`shared.gates.antigaming.Finding`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str
    file: str
    line: int | None = Field(default=None, description="1-based; null: the whole file")
    message: str
    severity: Literal["error", "warning"] = "error"
    before: str | None = Field(default=None, description="evidence before the change")
    after: str | None = Field(default=None, description="evidence after the change")


class EvaluationFindings(_Model):
    """The findings of one sealed evaluation."""

    evaluation_id: int
    run_id: int
    issue_number: int | None
    attempt: int | None
    head_sha: str | None = Field(description="the commit judged (40 hex)")
    decision: str
    policy_hash: str = Field(description="SHA-256 of the policy in force when judged")
    current_policy: bool = Field(description="whether that policy is the effective one today")
    source: str | None = Field(
        description="how the anti-gaming gate read the change: inventory or diff_lines"
    )
    findings: list[RecordedFinding] = Field(description="findings that decided the run")
    warnings: list[RecordedFinding] = Field(description="findings recorded only")
    created_at: datetime


class FindingsPage(_Model):
    """A page of a repository's recorded findings."""

    repository: str
    policy_hash: str = Field(description="SHA-256 of the effective policy today")
    items: list[EvaluationFindings]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


def _findings(raw: Any) -> list[RecordedFinding]:
    if not isinstance(raw, list):
        return []
    return [RecordedFinding.model_validate(f) for f in raw if isinstance(f, dict)]


def recorded_findings(
    tx: Tx, repository: str, current_hash: str, query: FindingsQuery
) -> FindingsPage:
    """The evaluations of ``repository`` (``owner/name``) that recorded a gate finding or
    warning, newest first, one page of ``query.limit``; ``current_hash`` is the effective
    policy's SHA-256 (hex), to mark which findings were recorded under it.

    Raises:
        CursorError: ``query.cursor`` is not a cursor of this list (400).
    """
    before = decode_cursor(CURSOR_KIND, query.cursor)
    rows = tx.all(
        SQL_FINDINGS,
        repository=repository,
        policy_hash=query.policy_hash,
        code=query.code,
        before=before,
        limit=query.limit + 1,
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    items = [
        EvaluationFindings(
            evaluation_id=r["id"],
            run_id=r["run_id"],
            issue_number=r["issue_number"],
            attempt=r["attempt"],
            head_sha=r["head_sha"],
            decision=r["decision"],
            policy_hash=r["policy_hash"],
            current_policy=r["policy_hash"] == current_hash,
            source=r["source"],
            findings=_findings(r["findings"]),
            warnings=_findings(r["warnings"]),
            created_at=r["created_at"],
        )
        for r in rows
    ]
    return FindingsPage(
        repository=repository,
        policy_hash=current_hash,
        items=items,
        next_cursor=encode_cursor(CURSOR_KIND, rows[-1]["id"]) if more and rows else None,
    )
