"""Postgres statements per event, counted through :class:`shared.db.Database` (issue 12): a
change that adds statements to run-complete's or the judge's path fails here, not in a
benchmark. Not timed. ``BEGIN``/``COMMIT`` are not counted; the limits are today's counts.

Raise a limit only with the reason in the commit; lower it when a change saves statements.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.db import Database
from shared.local.fakes.base import ServedFake
from tests.functional.judge.test_judge import CI_SUCCESS, REVIEW_OK, ci_concluded, github
from tests.functional.judge.test_judge import insert_run as insert_judged_run
from tests.functional.run_complete.test_run_complete import PARAMS, _codex_record, _post

__all__ = ["github"]  # the fake GitHub fixture the judge reads

#: run-complete, one new Argo completion: the inbox claim (lock, claim and stored reply in one),
#: the new run (attempt chosen, older attempts superseded, the run inserted whole, its completion
#: claimed and its artifacts stored, in one), the reply. No savepoint (a lost attempt race is a
#: 409).
RUN_COMPLETE_STATEMENTS = 3
#: A duplicate delivery: the inbox claim, which reads the stored reply in the same statement.
DUPLICATE_STATEMENTS = 1
#: The judge, one decision (offline judge, CI and review passed) with its GitHub reads: 8 of
#: them are the ETag cache's one-statement reads and writes (4 GitHub reads, each a 200).
JUDGE_STATEMENTS = 21


def _delta(db: Database, before: Counter[str]) -> Counter[str]:
    return db.counter.snapshot() - before


def _describe(counts: Counter[str]) -> str:
    return "\n".join(f"{n}x {' '.join(sql.split())[:110]}" for sql, n in counts.most_common())


def test_run_complete_statements_per_event(function_url: Any, db: Database) -> None:
    url = function_url("run_complete")
    assert _post(url, 1, _codex_record("uid-warm", 1, issue=1)).status_code == 200
    before = db.counter.snapshot()
    assert _post(url, 2, PARAMS.read_bytes()).status_code == 200
    counts = _delta(db, before)
    assert sum(counts.values()) <= RUN_COMPLETE_STATEMENTS, _describe(counts)
    duplicate = db.counter.snapshot()
    assert _post(url, 2, PARAMS.read_bytes()).status_code == 200  # answered from the inbox
    assert sum(_delta(db, duplicate).values()) <= DUPLICATE_STATEMENTS, _describe(
        _delta(db, duplicate)
    )


def test_judge_statements_per_decision(function_url: Any, github: ServedFake, db: Database) -> None:
    run_id = insert_judged_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    url = function_url("judge")
    before = db.counter.snapshot()
    resp = ci_concluded(url, run_id)
    assert resp.status_code == 200, resp.text
    counts = _delta(db, before)
    assert sum(counts.values()) <= JUDGE_STATEMENTS, _describe(counts)
