"""The soak's fault injector: function crashes, upstream errors and a Postgres outage, seeded.

While the completions are published (and a little after), one background thread draws from a
seeded RNG and, on its own clock:

* **kills** a random function process with ``SIGKILL`` (``kill -9``) every few seconds; the
  local supervisor restarts it as the kubelet would (:mod:`shared.local.mesh.supervisor`);
* **arms an upstream fault** on a random fake every second or so (``POST /_fake/faults``,
  :mod:`shared.local.fakes.base`): GitHub 502 and its secondary rate limit (403 + ``retry-after``),
  Discord 429 + ``Retry-After``, Argo 502/429 on submit, Argo CD 503 on sync, Facteur 503;
* **crashes a function at an effect point** every few seconds: it arms a *hold* on one upstream
  write (:data:`EFFECT_POINTS`: the merge ``PUT``, the Argo submit of a rerun or a verification,
  the Discord ``POST``, the Argo CD sync; :func:`shared.local.fakes.base.hold`), and once the
  fake lists the write as applied with its answer held, ``kill -9`` the function that called —
  after the upstream changed, before the function could record it;
* **stops Postgres** once, for :attr:`FaultPlan.postgres_outage_s`, at such an effect point (a
  hold on each; the first write applied with its answer held stops it; a plain timed stop if
  none comes within 20 s), then
  starts it again with the options it ran with (``pg_ctl``, the embedded server only, and only
  when the mesh owns it: a server other processes share is never stopped).

The seed fixes which faults are drawn and when; thread scheduling still varies the interleaving.
"""

from __future__ import annotations

import random
import shlex
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.local.fakes.base import fault, hold
from shared.local.mesh.supervisor import Mesh

#: ``(fake, fault)`` pairs the injector draws from. Retry-After stays short: a soak is minutes.
UPSTREAM_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("github", fault(502, path="/repos/", times=2)),
    ("github", fault(502, path="/merge", method="PUT")),
    ("github", fault(502, path="/graphql", method="POST")),
    (
        "github",
        fault(
            403,
            path="/repos/",
            headers={"retry-after": "1", "x-ratelimit-remaining": "4000"},
            body={
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes"
                " before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits",
            },
        ),
    ),
    ("discord", fault(429, method="POST", headers={"Retry-After": "1"})),
    ("argo", fault(502, path="/submit", method="POST")),
    ("argo", fault(429, path="/submit", method="POST", headers={"Retry-After": "1"})),
    ("argocd", fault(503, path="/sync", method="POST")),
    ("argocd", fault(502, path="/api/v1/applications/", method="GET")),
    ("facteur", fault(503, method="POST")),
]


#: How long a held effect's answer waits: the window the injector acts in, seconds.
EFFECT_HOLD_S = 2.0
#: ``(fake, hold, functions that may have called)``: the upstream writes whose answers the
#: injector holds to crash the caller (or stop Postgres) after the write was applied. An Argo
#: submit is a rerun (``rerun``) or a verification (``deploy``): both are killed.
EFFECT_POINTS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("github", hold(EFFECT_HOLD_S, path="/merge", method="PUT"), ("merge",)),
    ("argo", hold(EFFECT_HOLD_S, path="/submit", method="POST"), ("rerun", "deploy")),
    ("discord", hold(EFFECT_HOLD_S, method="POST"), ("discord",)),
    ("argocd", hold(EFFECT_HOLD_S, path="/sync", method="POST"), ("deploy",)),
]
#: How long the Postgres outage waits for an effect point before stopping anyway, seconds.
POSTGRES_EFFECT_WAIT_S = 20.0
#: A hold no request matched within this many seconds is disarmed (that fake's armed faults
#: are cleared), so the injector can arm another.
HOLD_EXPIRY_S = 15.0


@dataclass
class _Pending:
    """A hold armed on one fake, waiting for its write."""

    purpose: str  # "kill" or "postgres"
    functions: tuple[str, ...]
    armed_at: float


@dataclass(frozen=True)
class FaultPlan:
    """How hard the injector hits (seconds are wall-clock).

    Attributes:
        kill_every_s: mean interval between two ``kill -9`` (0 disables kills).
        upstream_every_s: mean interval between two armed upstream faults (0 disables them).
        postgres_outage_s: how long Postgres stays stopped (0 disables the outage).
        postgres_after_s: when the outage is armed (at the next effect point), counted from
            :meth:`FaultInjector.start`.
        effect_crash_every_s: mean interval between two effect-point crashes (0 disables them).
    """

    kill_every_s: float = 4.0
    upstream_every_s: float = 1.0
    postgres_outage_s: float = 2.0
    postgres_after_s: float = 8.0
    effect_crash_every_s: float = 3.0


NO_FAULTS = FaultPlan(
    kill_every_s=0, upstream_every_s=0, postgres_outage_s=0, effect_crash_every_s=0
)


def _pg_ctl(args: list[str], user: str | None) -> None:
    """Run the embedded server's ``pg_ctl`` as ``user`` (pgserver runs Postgres as its own
    system user when we are root). Output goes to a file, not a pipe: the postmaster would
    inherit a pipe and hold it open."""
    from pgserver._commands import POSTGRES_BIN_PATH  # the embedded server's own binaries

    with tempfile.TemporaryFile("w+") as out:
        done = subprocess.run(
            [str(Path(POSTGRES_BIN_PATH) / "pg_ctl"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            user=user,
            timeout=60,
        )
        if done.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"pg_ctl {args[-1]} failed: {out.read()}")


def restart_embedded_postgres(server: Any, outage_s: float) -> None:
    """Stop the embedded server (``pg_ctl stop -m fast``: every connection is cut), wait
    ``outage_s`` seconds, and start it again with the options it ran with (read from
    ``postmaster.opts``, so the same socket directory and URL). The handle then follows the new
    postmaster, so stopping the mesh still stops the server.

    Args:
        server: pgserver's ``PostgresServer`` (``pgdata``; ``system_user`` when we are root,
            as Postgres refuses to run as root).
        outage_s: seconds between stop and start.

    Raises:
        RuntimeError: ``pg_ctl`` failed; its output is in the message.
    """
    pgdata = Path(server.pgdata)
    user = getattr(server, "system_user", None)
    argv = shlex.split((pgdata / "postmaster.opts").read_text())[1:]
    options = []
    skip = False
    for arg in argv:  # pg_ctl passes -D itself
        if skip:
            skip = False
        elif arg == "-D":
            skip = True
        else:
            options.append(shlex.quote(arg))
    _pg_ctl(["-D", str(pgdata), "-m", "fast", "-w", "stop"], user)
    time.sleep(outage_s)
    _pg_ctl(
        ["-D", str(pgdata), "-w", "-l", str(pgdata / "log"), "-o", " ".join(options), "start"],
        user,
    )
    server.ensure_postgres_running()


@dataclass
class FaultInjector:
    """Injects :class:`FaultPlan` into a running :class:`Mesh` until :meth:`stop`.

    Args:
        mesh: the running mesh.
        plan: the intervals.
        seed: the RNG seed.
        server: the embedded server (pgserver's handle) when the mesh owns it, else None
            (no outage is injected).
    """

    mesh: Mesh
    plan: FaultPlan
    seed: int
    server: Any = None
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    #: The request bodies of the Discord posts whose caller was killed after Discord answered.
    discord_crashed: list[dict[str, Any]] = field(default_factory=list)
    #: When the ``discord`` function lost its work, as ``(from, to)`` epoch seconds: each kill
    #: of it (``from == to``) and the Postgres outage. A notice posted just before such a
    #: moment may be posted again (Discord webhook mode has no idempotency key; the harness
    #: names those double posts, :func:`tests.soak.harness._webhook_double_posts`).
    discord_disruptions: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: dict[str, list[_Pending]] = {}
        self._held_seen: dict[str, int] = {}
        self._next_poll = 0.0
        self._outage_done = False
        #: How long the Postgres restart took, stop to started, seconds.
        self.outage_s = 0.0

    def start(self) -> FaultInjector:
        """Start injecting in a background thread."""
        self._thread = threading.Thread(target=self._run, name="soak-faults", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop injecting; waits for an outage in progress to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)

    def _next(self, every_s: float, now: float) -> float:
        return now + self._rng.uniform(0.5, 1.5) * every_s if every_s > 0 else float("inf")

    def _run(self) -> None:
        plan = self.plan
        started = time.monotonic()
        next_kill = self._next(plan.kill_every_s, started)
        next_fault = self._next(plan.upstream_every_s, started)
        outage_at = (
            started + plan.postgres_after_s
            if plan.postgres_outage_s > 0 and self.server is not None
            else float("inf")
        )
        outage_deadline = float("inf")
        next_effect = self._next(plan.effect_crash_every_s, started)
        functions = sorted(self.mesh.processes)
        with httpx.Client(timeout=5) as client:
            while not self._stop.wait(0.05):
                now = time.monotonic()
                if now >= next_kill:
                    name = self._rng.choice(functions)
                    self._kill(name)
                    self.counts["kills"] += 1
                    next_kill = self._next(plan.kill_every_s, now)
                if now >= next_fault:
                    fake, armed = self._rng.choice(UPSTREAM_FAULTS)
                    if fake in self.mesh.fakes:
                        url = f"{self.mesh.fakes[fake]}/_fake/faults"
                        self._attempt(f"arm {fake}", client.post, url, json=armed)
                        self.counts["upstream_faults_armed"] += 1
                    next_fault = self._next(plan.upstream_every_s, now)
                if now >= next_effect:
                    self._arm_effect(client, "kill", now)
                    next_effect = self._next(plan.effect_crash_every_s, now)
                if now >= outage_at:  # a hold on every effect point: the first one stops it
                    outage_at = float("inf")
                    outage_deadline = now + POSTGRES_EFFECT_WAIT_S
                    for point in EFFECT_POINTS:
                        self._arm_effect(client, "postgres", now, point)
                if now >= self._next_poll:
                    self._next_poll = now + 0.1
                    if self._poll_effects(client):
                        outage_deadline = float("inf")
                if now >= outage_deadline and not self._outage_done:  # no effect came
                    self._outage_done = True
                    outage_deadline = float("inf")
                    self._restart_postgres()

    def _arm_effect(
        self,
        client: httpx.Client,
        purpose: str,
        now: float,
        point: tuple[str, dict[str, Any], tuple[str, ...]] | None = None,
    ) -> None:
        """Arm a hold on ``point``, or on a random effect point whose fake has none pending."""
        free = [
            candidate
            for candidate in ([point] if point else EFFECT_POINTS)
            if candidate[0] in self.mesh.fakes
            and (point is not None or not self._pending.get(candidate[0]))
        ]
        if not free:
            return
        fake, armed, callers = self._rng.choice(free)
        url = f"{self.mesh.fakes[fake]}/_fake/faults"
        self._attempt(f"arm hold {fake}", client.post, url, json=armed)
        self._pending.setdefault(fake, []).append(_Pending(purpose, callers, now))

    def _poll_effects(self, client: httpx.Client) -> bool:
        """Act on every newly held write: kill its caller(s), or stop Postgres; True when
        the Postgres outage happened."""
        outage = False
        for fake, pending in self._pending.items():
            if not pending:
                continue
            url = f"{self.mesh.fakes[fake]}/_fake/faults"
            try:
                held = client.get(url).json()["held"]
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                self.errors.append(f"poll {fake}: {type(exc).__name__}: {exc}")
                continue
            for entry in held[self._held_seen.get(fake, 0) :]:
                self._held_seen[fake] = int(entry["seq"]) + 1
                if not pending:
                    break
                what = pending.pop(0)
                if int(entry["status"]) >= 300:  # the upstream refused it: nothing to crash
                    self.counts["effect_holds_refused"] += 1
                    continue
                if what.purpose == "postgres":
                    if not self._outage_done:
                        self._outage_done = True
                        self.counts[f"postgres_stop_at_{fake}"] += 1
                        self._restart_postgres()
                        outage = True
                    continue
                for name in what.functions:
                    if name in self.mesh.processes:
                        self._kill(name)
                self.counts[f"effect_crashes_{fake}"] += 1
                if fake == "discord" and isinstance(entry.get("json"), dict):
                    self.discord_crashed.append(entry["json"])
            if pending and time.monotonic() - pending[0].armed_at > HOLD_EXPIRY_S:
                try:  # nothing came: disarm it (and that fake's other armed faults)
                    client.delete(url)
                    self._held_seen[fake] = len(client.get(url).json()["held"])
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    self.errors.append(f"disarm {fake}: {type(exc).__name__}: {exc}")
                self.counts["effect_holds_expired"] += len(pending)
                pending.clear()
        return outage

    def _kill(self, name: str) -> None:
        if self._attempt(f"kill {name}", self.mesh.kill, name) and name == "discord":
            self.discord_disruptions.append((time.time(), time.time()))

    def _restart_postgres(self) -> None:
        began, began_at = time.monotonic(), time.time()
        if self._attempt(
            "postgres restart", restart_embedded_postgres, self.server, self.plan.postgres_outage_s
        ):
            self.counts["postgres_restarts"] += 1
            self.outage_s = round(time.monotonic() - began, 1)
        self.discord_disruptions.append((began_at, time.time()))

    def _attempt(self, what: str, action: Any, *args: Any, **kwargs: Any) -> bool:
        """Run ``action``; False (and the error recorded) when it raised."""
        try:
            action(*args, **kwargs)
        except Exception as exc:  # an injector failure is reported, never fatal
            self.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            return False
        return True
