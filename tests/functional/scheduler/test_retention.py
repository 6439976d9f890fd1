"""Retention (issue 12): the scheduler's tick deletes, in bounded batches, the rows nothing needs
any more, and never what a pending run or a duplicate delivery still needs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from functions.scheduler import retention
from shared.db import Database
from shared.settings import Settings
from shared.settings.retention import RetentionSettings
from tests.functional.scheduler.test_scheduler import Ingress, ingress, run_in, scheduler, tick

__all__ = ["ingress", "scheduler"]  # fixtures used here

OLD = "now() - interval '40 days'"


def _seed(db: Database) -> dict[str, int]:
    active = run_in(db, "waiting_for_ci", 1)
    ended = run_in(db, "completed", 2)
    recent_end = run_in(db, "completed", 3)
    with db.transaction() as tx:
        tx.run(f"UPDATE codex_judge.runs SET updated_at = {OLD} WHERE id = :id", id=ended)
        inbox = "INSERT INTO runtime.inbox (consumer, source, event_id, event_type, run_id,"
        inbox += " reply, received_at) VALUES ('judge', 's', :id, 't', :run, '{{}}', {at})"
        tx.run(inbox.format(at=OLD), id="old-active", run=active)
        tx.run(inbox.format(at=OLD), id="old-ended", run=ended)
        tx.run(inbox.format(at=OLD), id="old-no-run", run=None)
        tx.run(inbox.format(at="now()"), id="recent-dup", run=ended)
        events = "INSERT INTO github.events (delivery_id, event, payload, received_at,"
        events += " published_at) VALUES (:id, 'push', '{{}}', {at}, {pub})"
        tx.run(events.format(at=OLD, pub=OLD), id="old-published")
        tx.run(events.format(at=OLD, pub="NULL"), id="old-unpublished")
        tx.run(events.format(at="now() - interval '2 days'", pub="now()"), id="redeliverable")
        dead = "INSERT INTO runtime.dead_letters (subscriber, event_source, event_id,"
        dead += " received_at, replayed_at) VALUES ('judge', 's', :id, {at}, {rep})"
        tx.run(dead.format(at=OLD, rep=OLD), id="old-replayed")
        tx.run(dead.format(at=OLD, rep="NULL"), id="old-unreplayed")
        etag = "INSERT INTO github.etag_cache (url, credential, body, stored_at)"
        etag += " VALUES (:url, '', '{{}}', {at})"
        tx.run(etag.format(at=OLD), url="https://api/old")
        tx.run(etag.format(at="now()"), url="https://api/new")
        msg = "INSERT INTO workflow_comms.agent_messages (run_id, seq, kind, workflow_uid,"
        msg += " created_at) VALUES (:run, :seq, 'note', :uid, {at})"
        tx.run(msg.format(at=OLD), run=ended, seq=1, uid=None)
        tx.run(msg.format(at=OLD), run=active, seq=1, uid=None)
        tx.run(msg.format(at=OLD), run=recent_end, seq=1, uid=None)
        tx.run(msg.format(at=OLD), run=None, seq=None, uid="uid-1")  # the active run's, unlinked
        tx.run(msg.format(at=OLD), run=None, seq=None, uid="uid-gone")
        timer = "INSERT INTO runtime.timers (owner, run_id, kind, due_at, done_at)"
        timer += " VALUES ('ci-status', :run, :kind, {at}, {done})"
        tx.run(timer.format(at=OLD, done=OLD), run=ended, kind="ci_timeout")
        tx.run(timer.format(at=OLD, done=OLD), run=active, kind="ci_timeout")  # set once
        later = timer.format(at="now() + interval '1 hour'", done="NULL")
        tx.run(later, run=active, kind="reconcile")
        auth = "INSERT INTO runtime.auth_failures (scope, client, window_start, failures)"
        auth += " VALUES ('login', :client, {at}, 3)"
        tx.run(auth.format(at=OLD), client="10.0.0.1")
        tx.run(auth.format(at="now()"), client="10.0.0.2")
    return {"active": active, "ended": ended, "recent_end": recent_end}


def _left(db: Database) -> dict[str, list[Any]]:
    with db.transaction() as tx:
        return {
            "inbox": sorted(
                r["event_id"] for r in tx.all("SELECT event_id FROM runtime.inbox WHERE source='s'")
            ),
            "events": sorted(r["delivery_id"] for r in tx.all("SELECT * FROM github.events")),
            "dead": sorted(r["event_id"] for r in tx.all("SELECT * FROM runtime.dead_letters")),
            "etags": sorted(r["url"] for r in tx.all("SELECT url FROM github.etag_cache")),
            "messages": sorted(
                (r["run_id"] or 0, r["workflow_uid"] or "")
                for r in tx.all("SELECT * FROM workflow_comms.agent_messages")
            ),
            "timers": sorted(
                (r["run_id"], r["kind"]) for r in tx.all("SELECT * FROM runtime.timers")
            ),
            "auth": sorted(r["client"] for r in tx.all("SELECT * FROM runtime.auth_failures")),
        }


def test_a_tick_deletes_what_nothing_needs_and_keeps_what_pending_runs_and_duplicates_need(
    db: Database, ingress: Ingress, scheduler: str
) -> None:
    ids = _seed(db)
    assert tick(scheduler, "ping-1").status_code == 202
    left = _left(db)
    assert left["inbox"] == ["old-active", "recent-dup"]
    assert left["events"] == ["old-unpublished", "redeliverable"]
    assert left["dead"] == ["old-unreplayed"]
    assert left["etags"] == ["https://api/new"]
    assert left["messages"] == [(0, "uid-1"), (ids["active"], ""), (ids["recent_end"], "")]
    assert left["timers"] == [(ids["active"], "ci_timeout"), (ids["active"], "reconcile")]
    assert left["auth"] == ["10.0.0.2"]  # the current window's failed sign-ins stay counted
    assert ingress.events == []  # nothing due: retention woke no one


def test_a_batch_deletes_at_most_its_bound_oldest_first(db: Database) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO runtime.inbox (consumer, source, event_id, event_type, received_at)"
            " SELECT 'c', 's', 'e' || g, 't', now() - make_interval(days => 100 - g)"
            " FROM generate_series(1, 5) g"
        )
    policy = RetentionSettings(retention_batch=2)
    assert retention.run_batches(db, policy)["runtime.inbox"] == 2
    assert _left(db)["inbox"] == ["e3", "e4", "e5"]
    assert retention.run_batches(db, policy)["runtime.inbox"] == 2
    assert retention.run_batches(db, policy)["runtime.inbox"] == 1
    assert retention.run_batches(db, policy)["runtime.inbox"] == 0


def test_the_horizons_are_settings_and_guard_githubs_redelivery_window(
    db: Database, monkeypatch: Any
) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO runtime.inbox (consumer, source, event_id, event_type, received_at)"
            " VALUES ('c', 's', 'four-days-old', 't', now() - interval '4 days')"
        )
    assert retention.run_batches(db, Settings())["runtime.inbox"] == 0  # 7 days by default
    monkeypatch.setenv("CODEX_JUDGE_RETENTION_INBOX_DAYS", "3")
    assert retention.run_batches(db, Settings())["runtime.inbox"] == 1
    with pytest.raises(ValidationError, match="retention_deliveries_days"):
        Settings(retention_deliveries_days=2)  # GitHub redelivers for 3 days
