"""The local mesh's deliberate duplicate deliveries (Knative is at-least-once; the soak turns
them on): a seeded share of the events a Trigger subscriber answered 2xx is delivered once more,
never a third time, never a tick, never to a source's sink, and off by default."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import flask
import pytest

from shared.local.mesh.dispatcher import Dispatcher, Target
from shared.local.mesh.wire import ping_event
from shared.runtime.envelope import Envelope
from tests.functional.local.test_quiet_ticks import _settle


def _counting_subscriber(seen: Counter[str], lock: threading.Lock) -> flask.Flask:
    app = flask.Flask("subscriber")

    def receive() -> flask.Response:
        with lock:
            seen[flask.request.headers.get("ce-id", "?")] += 1
        return flask.Response(b"", status=202)

    app.add_url_rule("/", "event", receive, methods=["POST"])
    return app


def _events(n: int) -> list[Envelope]:
    return [Envelope(id=f"e-{i}", source="/codex-judge/judge", type="x.judged") for i in range(n)]


def _deliver(
    serve: Any, *, share: float | None, replies: bool, events: list[Envelope]
) -> tuple[Counter[str], dict[str, Any]]:
    seen: Counter[str] = Counter()
    url = serve(_counting_subscriber(seen, threading.Lock())).url + "/"
    target = Target(name="merge", url=url, destination="x", replies=replies)
    dispatcher = Dispatcher(lambda event: None, workers=2)
    try:
        if share is not None:
            dispatcher.duplicate(share, seed=3)
        for event in events:
            dispatcher.submit(event, target)
        _settle(dispatcher, len(events))
        time.sleep(0.2)  # a duplicate is queued 50 ms after its first delivery
        _settle(dispatcher, len(events))
        return seen, dispatcher.stats()
    finally:
        dispatcher.stop()


def test_a_share_of_trigger_deliveries_happens_exactly_twice(serve: Any) -> None:
    seen, stats = _deliver(serve, share=0.5, replies=True, events=_events(40))
    twice = [event_id for event_id, n in seen.items() if n == 2]
    assert set(seen.values()) == {1, 2}  # never lost, never three times
    assert len(seen) == 40
    assert stats["duplicated"] == len(twice)
    assert 5 <= len(twice) <= 35  # seeded draw of a 0.5 share of 40
    assert stats["delivered"] == 40 + len(twice)


def test_everything_twice_with_share_one(serve: Any) -> None:
    seen, stats = _deliver(serve, share=1.0, replies=True, events=_events(5))
    assert seen == Counter({f"e-{i}": 2 for i in range(5)})
    assert stats["duplicated"] == 5


def test_off_by_default_and_never_for_sources_or_ticks(serve: Any) -> None:
    seen, stats = _deliver(serve, share=None, replies=True, events=_events(10))
    assert set(seen.values()) == {1} and stats["duplicated"] == 0
    # A source's sink (replies=False): a KafkaSource or PingSource delivery is not duplicated.
    seen, stats = _deliver(serve, share=1.0, replies=False, events=_events(5))
    assert set(seen.values()) == {1} and stats["duplicated"] == 0
    tick = ping_event("codex-judge", "tick", "{}", "application/json")
    seen, stats = _deliver(serve, share=1.0, replies=True, events=[tick])
    assert sum(seen.values()) == 1 and stats["duplicated"] == 0


def test_the_share_must_be_a_probability() -> None:
    dispatcher = Dispatcher(lambda event: None, workers=1)
    try:
        with pytest.raises(ValueError, match=r"within 0\.\.1"):
            dispatcher.duplicate(1.5, seed=1)
    finally:
        dispatcher.stop()
