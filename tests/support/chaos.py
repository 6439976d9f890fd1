"""A chaos layer between the local broker and each function: at-least-once delivery, made nasty.

Every function is served behind its own small WSGI proxy (:func:`chaos_proxy`). For each
delivery the broker makes, the proxy draws from one seeded RNG (:class:`Chaos`) and may:

* **fail before forwarding** — answer 503; the broker retries per the Trigger's ``delivery``;
* **lose the answer** — forward, let the function commit its work, then answer 503 anyway (a
  crash between commit and reply, DESIGN §4); the redelivery must get the same reply;
* **duplicate** — forward a second copy, concurrently or right after the first; a CloudEvent in
  the copy's answer is posted to the Broker ingress as a reply, exactly as the Broker would
  route it, so replies are duplicated too;
* **hold** — wait a few milliseconds before forwarding, which reorders events across workers.

Failures are bounded per ``(subscriber, event id)`` by ``max_failures`` (default 2) and, when
:attr:`Chaos.retries` names the subscriber's Trigger ``retry``, by that ``retry`` minus 2, so
chaos alone never sends an event to the dead-letter sink: a dead letter in a chaos run is a
real failure. A *concurrent* duplicate counts as a failure too: the copy that loses the race
for the inbox row is answered 409 and spends an attempt (the scheduler's tick Trigger retries
only 3 times, so two injected failures plus such a 409 and one slow transaction used to
exhaust it under CPU load and dead-letter a tick). Thread scheduling makes the
draw order vary between runs with the same seed; the seed fixes the mix, not the interleaving.
Source of the delivery rules: Knative Eventing "Event delivery" (retry on 5xx, 409, 429).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import flask
import httpx

#: Response headers worth passing back to the broker (CloudEvent attributes and delivery hints).
_PASSED_HEADERS = ("content-type", "retry-after")


@dataclass(frozen=True)
class ChaosConfig:
    """Probabilities per delivery (0..1) and bounds.

    Attributes:
        fail_p: answer 503 before forwarding.
        lose_answer_p: forward, then answer 503 instead of the function's answer.
        duplicate_p: forward a second copy of the delivery.
        concurrent_p: of duplicates, the share sent concurrently (else right after).
        hold_max_s: the longest hold before forwarding, seconds.
        max_failures: injected failures at most per ``(subscriber, event id)``.
    """

    fail_p: float = 0.2
    lose_answer_p: float = 0.1
    duplicate_p: float = 0.3
    concurrent_p: float = 0.5
    hold_max_s: float = 0.03
    max_failures: int = 2


@dataclass(frozen=True)
class Plan:
    """What the proxy does with one delivery."""

    fail_before: bool = False
    lose_answer: bool = False
    duplicate: bool = False
    concurrent: bool = False
    hold_s: float = 0.0


CLEAN = Plan()


@dataclass
class Chaos:
    """The seeded source of :class:`Plan` s, shared by every proxy of one mesh.

    Args:
        seed: the RNG seed; None delivers cleanly (every plan is :data:`CLEAN`).
        config: the probabilities.
    """

    seed: int | None
    config: ChaosConfig = field(default_factory=ChaosConfig)
    stats: Counter[str] = field(default_factory=Counter)
    #: Each subscriber's Trigger ``retry`` (its ``spec.delivery``), bounding its failures.
    retries: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._failures: Counter[tuple[str, str]] = Counter()
        self._pending = 0

    def plan(self, subscriber: str, event_id: str) -> Plan:
        """The plan for one delivery of ``event_id`` to ``subscriber``."""
        if self.seed is None:
            return CLEAN
        cfg = self.config
        with self._lock:
            draws = [self._rng.random() for _ in range(5)]
            limit = cfg.max_failures
            if subscriber in self.retries:
                limit = min(limit, self.retries[subscriber] - 2)
            key = (subscriber, event_id)
            room = limit - self._failures[key]
            fail_before = room > 0 and draws[0] < cfg.fail_p
            lose_answer = not fail_before and room > 0 and draws[1] < cfg.lose_answer_p
            if fail_before or lose_answer:
                self._failures[key] += 1
            duplicate = not fail_before and draws[2] < cfg.duplicate_p
            concurrent = (
                duplicate and limit - self._failures[key] > 0 and draws[3] < cfg.concurrent_p
            )
            if concurrent:  # the loser of the race is answered 409: an attempt spent
                self._failures[key] += 1
            plan = Plan(
                fail_before=fail_before,
                lose_answer=lose_answer,
                duplicate=duplicate,
                concurrent=concurrent,
                hold_s=draws[4] * cfg.hold_max_s,
            )
            for name in ("fail_before", "lose_answer", "duplicate"):
                self.stats[name] += int(getattr(plan, name))
            self.stats["deliveries"] += 1
        return plan

    def begin(self) -> None:
        """A background copy started (see :meth:`settled`)."""
        with self._lock:
            self._pending += 1

    def end(self) -> None:
        """A background copy finished."""
        with self._lock:
            self._pending -= 1

    def settled(self) -> bool:
        """No duplicate copy is still in flight."""
        with self._lock:
            return self._pending == 0


def _forward(
    client: httpx.Client, url: str, headers: dict[str, str], body: bytes
) -> httpx.Response:
    return client.post(url, headers=headers, content=body, timeout=60)


def _post_reply(client: httpx.Client, ingress: str, answer: httpx.Response) -> None:
    """Route a CloudEvent found in ``answer`` into the Broker, as the Broker routes replies."""
    if answer.status_code != 200 or "ce-specversion" not in answer.headers:
        return
    headers = {k: v for k, v in answer.headers.items() if k.lower().startswith("ce-")}
    headers["content-type"] = answer.headers.get("content-type", "application/json")
    client.post(ingress, headers=headers, content=answer.content, timeout=30)


def chaos_proxy(
    subscriber: str, upstream: str, chaos: Chaos, ingress: Callable[[], str]
) -> flask.Flask:
    """A WSGI app that forwards every POST to ``upstream`` under ``chaos`` (module docstring).

    Args:
        subscriber: the Knative Service name (the key of the failure bound).
        upstream: the function's URL.
        chaos: the shared plan source.
        ingress: returns the Broker ingress URL (where duplicated replies go).
    """
    app = flask.Flask(f"chaos_{subscriber.replace('-', '_')}")
    client = httpx.Client()

    def duplicate(headers: dict[str, str], body: bytes) -> None:
        try:
            _post_reply(client, ingress(), _forward(client, upstream, headers, body))
        except httpx.HTTPError:
            pass  # a lost duplicate is just a delivery that never happened
        finally:
            chaos.end()

    @app.post("/", defaults={"path": ""})
    @app.post("/<path:path>")
    def proxy(path: str) -> flask.Response:
        headers = {
            k: v
            for k, v in flask.request.headers.items()
            if k.lower() not in ("host", "content-length")
        }
        body = flask.request.get_data()
        plan = chaos.plan(subscriber, headers.get("Ce-Id", headers.get("ce-id", "")))
        if plan.fail_before:
            return flask.Response(b'{"error": "chaos"}', status=503)
        time.sleep(plan.hold_s)
        copy: threading.Thread | None = None
        if plan.duplicate:
            chaos.begin()
            copy = threading.Thread(target=duplicate, args=(headers, body), daemon=True)
            if plan.concurrent:
                copy.start()
        answer = _forward(client, upstream, headers, body)
        if copy is not None and not plan.concurrent:
            copy.start()
        if plan.lose_answer:
            return flask.Response(b'{"error": "chaos: answer lost"}', status=503)
        passed = {
            k: v
            for k, v in answer.headers.items()
            if k.lower().startswith("ce-") or k.lower() in _PASSED_HEADERS
        }
        return flask.Response(answer.content, status=answer.status_code, headers=passed)

    return app
