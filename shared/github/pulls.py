"""The ``github.pr_state`` projection: one row per pull request (DESIGN §5).

The newest ``updated_at`` wins; on a tie the row is refreshed but a known
``mergeable``/``mergeable_state`` is not replaced by GitHub's "not computed yet" (null/unknown).
"""

from __future__ import annotations

from shared.db import Tx
from shared.github import iso
from shared.models.github import PullRequest

SQL_UPSERT_PULL = """
INSERT INTO github.pr_state AS p (repository, pr_number, head_sha, head_ref, base_ref, base_sha,
    state, merged, draft, mergeable, mergeable_state, title, html_url, source_updated_at)
VALUES (:repository, :number, :head_sha, :head_ref, :base_ref, :base_sha, :state, :merged,
    :draft, :mergeable, :mergeable_state, :title, :html_url, CAST(:updated_at AS timestamptz))
ON CONFLICT (repository, pr_number) DO UPDATE SET
    head_sha = EXCLUDED.head_sha, head_ref = EXCLUDED.head_ref, base_ref = EXCLUDED.base_ref,
    base_sha = EXCLUDED.base_sha, state = EXCLUDED.state,
    merged = COALESCE(EXCLUDED.merged, p.merged), draft = EXCLUDED.draft,
    mergeable = CASE WHEN EXCLUDED.mergeable IS NULL AND p.head_sha = EXCLUDED.head_sha
                     THEN p.mergeable ELSE EXCLUDED.mergeable END,
    mergeable_state = CASE WHEN COALESCE(EXCLUDED.mergeable_state, 'unknown') = 'unknown'
                                AND p.head_sha = EXCLUDED.head_sha
                           THEN p.mergeable_state ELSE EXCLUDED.mergeable_state END,
    title = EXCLUDED.title, html_url = EXCLUDED.html_url,
    source_updated_at = EXCLUDED.source_updated_at, observed_at = now()
WHERE p.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
   OR EXCLUDED.source_updated_at >= p.source_updated_at
"""


def project_pull(tx: Tx, repository: str, pull: PullRequest) -> None:
    """Fold a pull request (REST or webhook ``pull_request``) into ``pr_state``."""
    tx.run(
        SQL_UPSERT_PULL,
        repository=repository,
        number=pull.number,
        head_sha=pull.head.sha,
        head_ref=pull.head.ref,
        base_ref=pull.base.ref,
        base_sha=pull.base.sha,
        state=pull.state,
        merged=pull.merged,
        draft=pull.draft,
        mergeable=pull.mergeable,
        mergeable_state=pull.mergeable_state,
        title=pull.title,
        html_url=pull.html_url,
        updated_at=iso(pull.updated_at),
    )
