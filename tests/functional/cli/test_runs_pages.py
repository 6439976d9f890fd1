"""``codex-judge runs`` is paged (issue 12): the newest page first, the next one below its
lowest id, each page in id order, and no page longer than asked."""

from __future__ import annotations

from shared.cli.report import list_runs
from shared.db import Database


def test_pages_walk_every_run_once_newest_first(db: Database) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.runs (workflow_uid, status) SELECT 'uid-' || g, 'notified'"
            " FROM generate_series(1, 7) g"
        )
    first = list_runs(db, limit=3)
    assert [r["workflow_uid"] for r in first] == ["uid-5", "uid-6", "uid-7"]
    second = list_runs(db, limit=3, before=first[0]["id"])
    third = list_runs(db, limit=3, before=second[0]["id"])
    assert [r["workflow_uid"] for r in second] == ["uid-2", "uid-3", "uid-4"]
    assert [r["workflow_uid"] for r in third] == ["uid-1"]
    assert list_runs(db, limit=3, before=third[0]["id"]) == []
    assert len(list_runs(db)) == 7
