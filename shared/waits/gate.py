"""A gate that waits on GitHub: what ci-status and review-gate share (DESIGN §2 "Nothing waits in
memory"; issue 3 "Durable waits and reconcile").

Both gates do the same two things and differ only in what they wait for:

* **on a webhook** (:func:`decide_waiting`): project the payload into the ``github`` tables,
  then decide every run waiting on what it touched (head SHAs for CI, pull requests for
  review), answering with the first reply — one reply per event; another run waiting on the same
  thing concludes on its next event;
* **on a tick** (:class:`GateWait`): adopt orphaned waits (a waiting run with no timer gets its
  deadline and an immediate reconcile), then handle each due timer — ``reconcile`` decides the
  run again from GitHub's state, the gate's deadline kind concludes it as timed out (the gate's
  own ``on_deadline``), any other kind is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from shared.db import Tx
from shared.github.dispatch import Touched, project_webhook
from shared.runs import Run
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits.orphans import ORPHAN_FINDERS
from shared.waits.reconcile import RECONCILE, Step, adopt_orphans, run_tick, tick_outcome


def decide_waiting(
    ctx: Context,
    name: str,
    payload: Any,
    *,
    keys: Callable[[Touched], Iterable[Any]],
    waiting: Callable[[Tx, str, Any], Iterable[Run]],
    decide: Callable[[Run, Context], Outcome],
    nobody: str,
) -> Outcome:
    """Project webhook ``name`` and decide each run ``waiting`` on one of the ``keys`` it touched
    (in sorted order), locked; returns the first :class:`Reply`, else the last outcome, else
    ``NoReply(nobody)``."""
    if not isinstance(payload, dict):
        return NoReply("payload is not an object")
    touched = project_webhook(ctx.tx, name, payload)
    if not touched.repository:
        return NoReply("payload names no repository")
    outcome: Outcome = NoReply(nobody)
    for key in sorted(keys(touched)):
        for run in waiting(ctx.tx, touched.repository, key):
            result = decide(run, ctx)
            if isinstance(result, Reply):
                return result
            outcome = result
    return outcome


@dataclass(frozen=True)
class GateWait:
    """The tick of a gate waiting on GitHub.

    Attributes:
        owner: the timer owner and orphan finder's key (``ci-status``, ``review-gate``).
        deadline_kind: the timer kind of the gate's deadline (``ci_timeout``).
        timeout_of: the policy's deadline in seconds (``lambda p: p.ci_timeout_s``).
        decide_run: decide run ``run_id`` from the projected state (``reconcile`` timers).
        on_deadline: conclude run ``run_id`` whose deadline passed.
    """

    owner: str
    deadline_kind: str
    timeout_of: Callable[[Any], int]
    decide_run: Callable[[Context, int], Outcome]
    on_deadline: Callable[[Context, int], Step]

    def handle(self, event: Envelope, ctx: Context) -> Outcome:
        """A wake-up (``timers.due``): adopt orphaned waits, then every due timer."""
        return tick_outcome(run_tick(ctx, self.on_timer, adopt=self.adopt))

    def adopt(self, ctx: Context, limit: int = 100) -> int:
        """Give each waiting run without timers its deadline and an immediate reconcile;
        returns how many were adopted."""
        return adopt_orphans(
            ctx,
            ORPHAN_FINDERS[self.owner],
            deadline_kind=self.deadline_kind,
            timeout_of=self.timeout_of,
            limit=limit,
        )

    def on_timer(self, ctx: Context, timer: dict[str, Any]) -> Step:
        """Handle one due ``reconcile`` or deadline timer of a run."""
        run_id = int(timer["run_id"])
        if timer["kind"] == RECONCILE:
            return Step(self.decide_run(ctx, run_id))
        if timer["kind"] != self.deadline_kind:
            return Step(NoReply(f"unknown timer kind {timer['kind']}", run_id=run_id))
        return self.on_deadline(ctx, run_id)
