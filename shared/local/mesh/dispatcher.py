"""Delivery of events to subscribers: a delay queue served by a bounded pool of workers.

Every delivery attempt is a job with a due time in one heap; a fixed number of worker threads
take the next due job, POST the event in binary mode over HTTP (httpx), or append it to a
KafkaSink's topic in process, and either finish it, put it back with the backoff of
:class:`~shared.local.mesh.delivery.DeliveryPolicy` (no thread sleeps per retry), or hand it to the
subscription's dead-letter sink with Knative's error extensions. A CloudEvent in a 2xx answer
is a *reply*; it is passed to ``on_reply`` when the target asks for replies (Trigger
subscribers do; sources and dead-letter sinks do not).

At-least-once, on purpose: :meth:`Dispatcher.duplicate` makes a seeded share of the deliveries
to Trigger subscribers happen twice (the second a moment after the first answered 2xx), as
Knative's at-least-once delivery allows (a lost acknowledgement, a dispatcher restart); the soak
turns it on so every subscriber's idempotency is exercised (issue 10). Off by default.

PingSource ticks and the scheduler's ``timers.due`` wake-ups are *quiet*: their deliveries
(and the 202 answers) are not activity for :meth:`Dispatcher.idle`, so a mesh ticking every
second can still go idle; whatever a wake-up causes (events published, replies) is counted as
usual.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.errors import PermanentError
from shared.local.mesh.delivery import DeliveryPolicy, Outcome, classify, dead_letter_extensions
from shared.local.mesh.wire import binary_request, is_wake_up, with_extensions
from shared.runtime.envelope import Envelope, read_event

log = logging.getLogger("codex_judge.mesh.dispatcher")

LOG_SIZE = 500


@dataclass(frozen=True)
class Target:
    """Where and how one subscription delivers.

    Attributes:
        name: the subscriber as shown in stats (a Service name or a URI).
        url: the URL the mesh POSTs to (a local port).
        destination: the in-cluster URL, used as ``knativeerrordest``.
        policy: retries, backoff and timeout.
        dead_letter: the dead-letter sink, or None (the event is dropped and logged).
        replies: route a CloudEvent in the answer back into the Broker.
        append: for a KafkaSink, appends the event to its topic in process instead of an HTTP
            POST (``url`` is then unused); it returning is the sink's 202.
    """

    name: str
    url: str
    destination: str
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    dead_letter: Target | None = None
    replies: bool = False
    append: Callable[[Envelope], object] | None = None


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    event: Envelope = field(compare=False)
    target: Target = field(compare=False)
    attempt: int = field(compare=False, default=1)
    duplicate: bool = field(compare=False, default=False)


class Dispatcher:
    """The delay queue and its workers.

    Args:
        on_reply: called with each reply event of a ``replies`` target.
        workers: the number of worker threads (the bound on concurrent deliveries).
        time_scale: multiplies every backoff and ``Retry-After`` wait (0.01 = 100 times faster).
    """

    def __init__(
        self, on_reply: Callable[[Envelope], object], *, workers: int = 8, time_scale: float = 1.0
    ) -> None:
        self._on_reply = on_reply
        self._time_scale = time_scale
        self._cond = threading.Condition()
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._active = 0
        self._active_quiet = 0
        self._stopping = False
        self._last_activity = time.monotonic()
        self._counts = {
            "delivered": 0,
            "retried": 0,
            "dead_lettered": 0,
            "replies": 0,
            "dropped": 0,
            "duplicated": 0,
        }
        self._duplicate_share = 0.0
        self._duplicate_rng = random.Random(0)
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._client = httpx.Client()
        self._threads = [
            threading.Thread(target=self._work, name=f"mesh-worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self,
        event: Envelope,
        target: Target,
        *,
        delay_s: float = 0.0,
        attempt: int = 1,
        duplicate: bool = False,
    ) -> None:
        """Queue one attempt of ``event`` to ``target`` after ``delay_s`` (already scaled);
        ``duplicate`` marks a deliberate second delivery (never duplicated again)."""
        with self._cond:
            due = time.monotonic() + delay_s
            job = _Job(due, next(self._seq), event, target, attempt, duplicate)
            heapq.heappush(self._heap, job)
            if not _quiet(event):
                self._last_activity = time.monotonic()
            self._cond.notify()

    def duplicate(self, share: float, seed: int) -> None:
        """Deliver a share of the events again after their delivery to a Trigger subscriber
        succeeded (module docstring).

        Args:
            share: the probability, 0..1, that a delivered event is delivered once more (0 turns
                it off). Ticks and ``timers.due`` wake-ups are never duplicated.
            seed: seeds the draw.

        Raises:
            ValueError: ``share`` is outside 0..1.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"duplicate share must be within 0..1, got {share!r}")
        with self._cond:
            self._duplicate_share = share
            self._duplicate_rng = random.Random(seed)

    def touch(self) -> None:
        """Record activity (an accepted event) for :meth:`idle`."""
        with self._cond:
            self._last_activity = time.monotonic()

    def in_flight(self) -> int:
        """Attempts queued or running."""
        with self._cond:
            return len(self._heap) + self._active

    def idle(self, quiet_s: float) -> bool:
        """Nothing but ticks queued or running, and no activity for ``quiet_s`` seconds."""
        with self._cond:
            queued = any(not _quiet(job.event) for job in self._heap)
            busy = queued or self._active > self._active_quiet
            return not busy and time.monotonic() - self._last_activity >= quiet_s

    def stats(self) -> dict[str, Any]:
        """Counters, ``in_flight`` and the last 500 attempts (oldest first)."""
        with self._cond:
            return {
                **self._counts,
                "in_flight": len(self._heap) + self._active,
                "log": list(self._log),
            }

    def stop(self) -> None:
        """Stop the workers; queued attempts are discarded."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._client.close()

    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._stopping:
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0].due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                job = heapq.heappop(self._heap)
                self._active += 1
                self._active_quiet += _quiet(job.event)
                return job
            return None

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                self._attempt(job)
            except Exception:  # a worker must survive anything one delivery does
                log.exception("delivery crashed", extra={"event_id": job.event.id})
            finally:
                with self._cond:
                    self._active -= 1
                    if _quiet(job.event):
                        self._active_quiet -= 1
                    else:
                        self._last_activity = time.monotonic()

    def _attempt(self, job: _Job) -> None:
        target, event = job.target, job.event
        headers, body = binary_request(event)
        headers["Prefer"] = "reply"
        status: int | None = None
        answer_headers: dict[str, str] = {}
        answer = b""
        try:
            if target.append is not None:
                target.append(event)
                status = 202
            else:
                resp = self._client.post(
                    target.url, headers=headers, content=body, timeout=target.policy.timeout_s
                )
                status, answer, answer_headers = resp.status_code, resp.content, dict(resp.headers)
        except httpx.HTTPError as exc:
            log.warning("delivery failed: %s", exc, extra={"subscriber": target.name})
        outcome = classify(status)
        self._record(event, target, status, job.attempt, outcome)
        if outcome is Outcome.DELIVERED:
            self._count("delivered")
            if target.replies and status == 200 and answer:
                self._reply(answer_headers, answer, target)
            if self._draw_duplicate(job):
                self._count("duplicated")
                self.submit(event, target, delay_s=0.05, duplicate=True)
            return
        delay = target.policy.next_delay_s(job.attempt, status, answer_headers)
        if delay is not None:
            self._count("retried")
            self.submit(event, target, delay_s=delay * self._time_scale, attempt=job.attempt + 1)
        elif target.dead_letter is not None:
            self._count("dead_lettered")
            errors = dead_letter_extensions(target.destination, status, answer)
            self.submit(with_extensions(event, errors), target.dead_letter)
        else:
            self._count("dropped")
            log.error(
                "event dropped: %s answered %s and has no dead-letter sink",
                target.name,
                status,
                extra={"event_id": event.id},
            )

    def _reply(self, headers: dict[str, str], body: bytes, target: Target) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        if "ce-specversion" not in lowered and not lowered.get("content-type", "").startswith(
            "application/cloudevents+json"
        ):
            return  # a plain 200 body is not a reply
        try:
            reply = read_event(headers, body)
        except PermanentError as exc:
            log.warning("unreadable reply from %s: %s", target.name, exc.message)
            return
        self._count("replies")
        self._on_reply(reply)

    def _draw_duplicate(self, job: _Job) -> bool:
        """Whether this delivered job is delivered once more (:meth:`duplicate`)."""
        if job.duplicate or not job.target.replies or _quiet(job.event):
            return False
        with self._cond:
            share = self._duplicate_share
            return share > 0 and self._duplicate_rng.random() < share

    def _count(self, name: str) -> None:
        with self._cond:
            self._counts[name] += 1

    def _record(
        self, event: Envelope, target: Target, status: int | None, attempt: int, outcome: Outcome
    ) -> None:
        with self._cond:
            self._log.append(
                {
                    "id": event.id,
                    "type": event.type,
                    "subscriber": target.name,
                    "status": status,
                    "attempt": attempt,
                    "outcome": outcome.value,
                }
            )


def _quiet(event: Envelope) -> bool:
    """Whether ``event`` is a tick or a ``timers.due`` (not activity for
    :meth:`Dispatcher.idle`; :func:`shared.local.mesh.wire.is_wake_up`)."""
    return is_wake_up(event)
