"""The local mesh's idleness with PingSource ticks flowing: tick deliveries, the scheduler's
``timers.due`` wake-ups and their 202 answers are not activity, the events they cause are (so
``GET /_mesh/idle`` still works with a tick every second)."""

from __future__ import annotations

import time
from typing import Any

import flask

from shared.local.mesh.dispatcher import Dispatcher, Target
from shared.local.mesh.wire import ping_event
from shared.runtime.envelope import Envelope

QUIET_S = 0.3


def _subscriber() -> flask.Flask:
    app = flask.Flask("subscriber")
    app.add_url_rule("/", "event", lambda: flask.Response(b"", status=202), methods=["POST"])
    return app


def _settle(dispatcher: Dispatcher, delivered: int) -> None:
    """Wait (bounded) until ``delivered`` attempts finished and nothing is in flight."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stats = dispatcher.stats()
        if stats["delivered"] >= delivered and stats["in_flight"] == 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"deliveries did not finish: {dispatcher.stats()}")


def _wait_idle(dispatcher: Dispatcher) -> None:
    deadline = time.monotonic() + 10
    while not dispatcher.idle(QUIET_S):
        assert time.monotonic() < deadline, "the dispatcher never went idle"
        time.sleep(0.05)


def test_ticks_are_not_activity_but_what_they_cause_is(serve: Any) -> None:
    target = Target(name="ci-status", url=serve(_subscriber()).url + "/", destination="x")
    dispatcher = Dispatcher(lambda event: None, workers=2)
    try:
        _wait_idle(dispatcher)
        quiet_since = time.monotonic() - QUIET_S  # the last activity was before this
        for _ in range(3):
            dispatcher.submit(ping_event("codex-judge", "tick", "{}", "application/json"), target)
        _settle(dispatcher, 3)
        # Three ticks delivered and answered, and the mesh is as quiet as before them.
        assert dispatcher.idle(time.monotonic() - quiet_since - 0.01)
        before = time.monotonic()
        published = Envelope(id="e-1", source="/codex-judge/ci-status", type="x.concluded")
        dispatcher.submit(published, target)
        _settle(dispatcher, 4)
        # An event a tick published is activity: the same quiet window no longer holds.
        assert before - quiet_since >= QUIET_S
        assert not dispatcher.idle(time.monotonic() - quiet_since - 0.01)
    finally:
        dispatcher.stop()


def test_a_timers_due_wake_up_is_not_activity_either(serve: Any) -> None:
    """The scheduler's ``timers.due`` and the owner's 202 (a reconcile that found CI still
    pending, say) leave the mesh idle: only what the woken owner publishes is activity."""
    target = Target(name="ci-status", url=serve(_subscriber()).url + "/", destination="x")
    dispatcher = Dispatcher(lambda event: None, workers=2)
    try:
        _wait_idle(dispatcher)
        quiet_since = time.monotonic() - QUIET_S
        for n in range(3):
            wake_up = Envelope(
                id=f"ping-{n}:ci-status",
                source="/codex-judge/scheduler",
                type="io.codexjudge.timers.due.v1",
                extensions={"timerowner": "ci-status"},
            )
            dispatcher.submit(wake_up, target)
        _settle(dispatcher, 3)
        assert dispatcher.idle(time.monotonic() - quiet_since - 0.01)
    finally:
        dispatcher.stop()
