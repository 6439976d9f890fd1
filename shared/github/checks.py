"""The ``github.check_state`` and ``github.check_suites`` projections (DESIGN §5).

* ``check_state``: one row per (commit, kind, name, app). A re-run is a new check run with a
  larger id, so the larger id wins, then the later timestamp (``completed_at`` or
  ``started_at``; a status's ``updated_at``), then completed over not completed.
* ``check_suites``: one row per suite id, newest by its ``updated_at``; codex-judge's own
  re-request of a suite is recorded on it, and the suite's check runs known at that moment read
  as ``requested`` until the re-run reports (larger ids).

Commit statuses are stored as ``kind='status'`` with ``status`` ``completed`` (conclusion = the
state) or ``pending``, so the CI rule treats check runs and statuses alike.
"""

from __future__ import annotations

from typing import Any

from shared.db import Tx
from shared.github import iso
from shared.models.events import CheckSummary
from shared.models.github import CheckRun, CheckSuite, CommitStatus

SQL_UPSERT_CHECK = """
INSERT INTO github.check_state AS c (repository, head_sha, kind, name, app_slug, app_id,
    suite_id, external_id, status, conclusion, details_url, source_updated_at)
VALUES (:repository, :head_sha, :kind, :name, :app_slug, :app_id, :suite_id, :external_id,
    :status, :conclusion, :details_url, CAST(:updated_at AS timestamptz))
ON CONFLICT (repository, head_sha, kind, name, app_slug) DO UPDATE SET
    app_id = COALESCE(EXCLUDED.app_id, c.app_id),
    suite_id = COALESCE(EXCLUDED.suite_id, c.suite_id),
    external_id = EXCLUDED.external_id, status = EXCLUDED.status,
    conclusion = EXCLUDED.conclusion, details_url = EXCLUDED.details_url,
    source_updated_at = EXCLUDED.source_updated_at, observed_at = now()
WHERE (COALESCE(CAST(EXCLUDED.external_id AS numeric), 0),
       COALESCE(EXCLUDED.source_updated_at, '-infinity'::timestamptz),
       EXCLUDED.status = 'completed')
    > (COALESCE(CAST(c.external_id AS numeric), 0),
       COALESCE(c.source_updated_at, '-infinity'::timestamptz),
       c.status = 'completed')
"""

# A check run whose id is at or below the suite's `rerequested_after_id` belongs to the attempt
# codex-judge asked GitHub to re-run: it reads as requested (pending) until the re-run reports
# with a larger id, so one failure never triggers two retries.
SQL_CHECKS_FOR_SHA = """
SELECT c.kind, c.name, c.app_slug, c.app_id, c.details_url,
       CASE WHEN c.kind = 'check_run' AND CAST(c.external_id AS numeric) <= s.rerequested_after_id
            THEN 'requested' ELSE c.status END AS status,
       CASE WHEN c.kind = 'check_run' AND CAST(c.external_id AS numeric) <= s.rerequested_after_id
            THEN NULL ELSE c.conclusion END AS conclusion
FROM github.check_state c
LEFT JOIN github.check_suites s ON s.repository = c.repository AND s.suite_id = c.suite_id
WHERE c.repository = :repository AND c.head_sha = :head_sha
ORDER BY c.name, c.kind, c.app_slug
"""

SQL_UPSERT_SUITE = """
INSERT INTO github.check_suites AS s (repository, suite_id, head_sha, app_slug, app_id, status,
    conclusion, check_runs_count, source_updated_at)
VALUES (:repository, :suite_id, :head_sha, :app_slug, :app_id, :status, :conclusion,
    :check_runs_count, CAST(:updated_at AS timestamptz))
ON CONFLICT (repository, suite_id) DO UPDATE SET
    status = EXCLUDED.status, conclusion = EXCLUDED.conclusion,
    check_runs_count = COALESCE(EXCLUDED.check_runs_count, s.check_runs_count),
    app_slug = EXCLUDED.app_slug, app_id = COALESCE(EXCLUDED.app_id, s.app_id),
    source_updated_at = EXCLUDED.source_updated_at, observed_at = now()
WHERE (COALESCE(EXCLUDED.source_updated_at, '-infinity'::timestamptz),
       EXCLUDED.status = 'completed')
   >= (COALESCE(s.source_updated_at, '-infinity'::timestamptz), s.status = 'completed')
"""

SQL_SUITES_FOR_SHA = """
SELECT suite_id, app_slug, app_id, status, conclusion, check_runs_count, rerequested_at,
       rerequested_after_id
FROM github.check_suites WHERE repository = :repository AND head_sha = :head_sha
ORDER BY suite_id
"""

SQL_MARK_REREQUESTED = """
INSERT INTO github.check_suites AS s (repository, suite_id, head_sha, rerequested_at,
    rerequested_after_id)
VALUES (:repository, :suite_id, :head_sha, now(), (
    SELECT max(CAST(external_id AS numeric)) FROM github.check_state
    WHERE repository = :repository AND suite_id = :suite_id AND kind = 'check_run'))
ON CONFLICT (repository, suite_id) DO UPDATE SET
    rerequested_at = EXCLUDED.rerequested_at,
    rerequested_after_id = EXCLUDED.rerequested_after_id
"""


def project_check_run(tx: Tx, repository: str, run: CheckRun) -> None:
    """Fold one check run into ``check_state`` (see the module rules)."""
    tx.run(
        SQL_UPSERT_CHECK,
        repository=repository,
        head_sha=run.head_sha,
        kind="check_run",
        name=run.name,
        app_slug=(run.app.slug if run.app and run.app.slug else ""),
        app_id=run.app.id if run.app else None,
        suite_id=run.check_suite.id if run.check_suite else None,
        external_id=str(run.id),
        status=run.status,
        conclusion=run.conclusion,
        details_url=run.details_url or run.html_url,
        updated_at=iso(run.completed_at or run.started_at),
    )


def project_status(tx: Tx, repository: str, sha: str, status: CommitStatus) -> None:
    """Fold one commit status context into ``check_state`` as ``kind='status'``."""
    state = status.state.lower()
    tx.run(
        SQL_UPSERT_CHECK,
        repository=repository,
        head_sha=sha,
        kind="status",
        name=status.context,
        app_slug="",
        app_id=None,
        suite_id=None,
        external_id=str(status.id) if status.id is not None else None,
        status="pending" if state == "pending" else "completed",
        conclusion=None if state == "pending" else state,
        details_url=status.target_url,
        updated_at=iso(status.updated_at or status.created_at),
    )


def project_check_suite(tx: Tx, repository: str, suite: CheckSuite) -> None:
    """Fold one check suite into ``check_suites`` (newest by its ``updated_at``)."""
    tx.run(
        SQL_UPSERT_SUITE,
        repository=repository,
        suite_id=suite.id,
        head_sha=suite.head_sha,
        app_slug=(suite.app.slug if suite.app and suite.app.slug else ""),
        app_id=suite.app.id if suite.app else None,
        status=suite.status,
        conclusion=suite.conclusion,
        check_runs_count=suite.latest_check_runs_count,
        updated_at=iso(suite.updated_at),
    )


def suites_for_sha(tx: Tx, repository: str, sha: str) -> list[dict[str, Any]]:
    """The projected check suites of one commit (rows of ``github.check_suites``), by id."""
    return tx.all(SQL_SUITES_FOR_SHA, repository=repository, head_sha=sha)


def mark_suite_rerequested(tx: Tx, repository: str, head_sha: str, suite_id: int) -> None:
    """Record that codex-judge asked GitHub to re-run ``suite_id``: its check runs known now
    become a retry in flight (see :data:`SQL_CHECKS_FOR_SHA`)."""
    tx.run(SQL_MARK_REREQUESTED, repository=repository, head_sha=head_sha, suite_id=suite_id)


def checks_for_sha(tx: Tx, repository: str, sha: str) -> list[CheckSummary]:
    """Every projected check of one commit, newest per (kind, name, app); a check run of a
    re-requested attempt of its suite reads as ``requested``."""
    return [
        CheckSummary(
            name=r["name"],
            kind=r["kind"],
            app=r["app_slug"] or None,
            app_id=r["app_id"],
            status=r["status"],
            conclusion=r["conclusion"],
            details_url=r["details_url"],
        )
        for r in tx.all(SQL_CHECKS_FOR_SHA, repository=repository, head_sha=sha)
    ]
