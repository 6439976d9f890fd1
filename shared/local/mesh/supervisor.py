"""``codex-judge up``: start the whole local mesh and stop everything it started (DESIGN §8).

Order: embedded Postgres (unless ``DATABASE_URL``) → migrations → fakes (GitHub, Discord, Argo,
Facteur, Argo CD: each one whose URL is not configured; moto's S3 server as the artifact
repository when :attr:`Mesh.artifact_bucket` is set) → one process per Knative Service of the
overlay's kustomize build, started with the container command and environment its manifest
declares (:mod:`shared.local.mesh.cluster`, which names every local difference) → the local broker
(reading the same build's Broker, Triggers and sources). Each function is a real HTTP server in
its own process on its own loopback port; the broker delivers to them over HTTP.
The URLs are written to ``<data_dir>/mesh.json`` so ``codex-judge replay`` and ``runs`` find
them.

A function process that exits while the mesh runs is restarted as the kubelet restarts a
container (``restartPolicy: Always``): same command, environment and port, after a back-off
that starts at 0.1 s and doubles up to 5 s (the kubelet's CrashLoopBackOff: 10 s doubling up to
5 min, scaled down for a laptop), reset once a process has stayed up for 10 s. Each restart is
one line in the mesh's log and in the function's own log file
(``function <name> exited with <code>; restarting (restart #n)``). Each function runs in its
own process group, like a container's processes, so what the dead process left behind (its
gunicorn workers) is killed with it before the restart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.db import Database
from shared.db.migrate import apply_migrations
from shared.local.mesh.access import UiAccess, local_tokens, ui_urls
from shared.local.mesh.cluster import LocalCluster, function_processes
from shared.local.mesh.kustomize import OVERLAY, kustomize_build
from shared.local.mesh.processes import RunningFunction, free_port
from shared.settings import Settings, inherited_environment

log = logging.getLogger("codex_judge.mesh")

ROOT = Path(__file__).resolve().parents[3]  # the repository (shared/local/mesh/…)
SECRETS = "codex-judge-secrets"
"""The Secret of tokens and webhook secrets every function mounts (knative/base)."""
BROKER_PATH = "/codex-judge/codex-judge"
FAKE_DISCORD_WEBHOOK = "/api/webhooks/1000/local-fake-token"
RESTART_BACKOFF_S = (0.1, 5.0)
"""The first and the longest back-off before a restart, seconds (doubling in between)."""
BACKOFF_RESET_S = 10.0
"""A process that stayed up this long restarts after the first back-off again (seconds)."""
WATCH_INTERVAL_S = 0.1


@dataclass
class Mesh:
    """Everything ``up`` started; :meth:`stop` undoes it in reverse order."""

    settings: Settings
    extra_env: dict[str, str] = field(default_factory=dict)
    #: ``owner/name`` repositories the functions may write to on GitHub (DESIGN §11); passed as
    #: ``CODEX_JUDGE_GITHUB_WRITE_ALLOWLIST``, after the settings' own list.
    write_allowlist: list[str] = field(default_factory=list)
    #: The local stand-in for the Secret ``codex-judge-secrets`` (key = setting's variable).
    secrets: dict[str, str] = field(default_factory=dict)
    #: The overlay under ``knative/overlays/`` whose build the mesh runs.
    overlay: str = OVERLAY
    #: Start moto's S3 server as the artifact repository and have run-complete read the runs'
    #: artifacts from it, then from the fake Argo server (issue 13); the demo turns it on.
    artifact_bucket: bool = False
    database_url: str = ""
    broker_url: str = ""
    functions: dict[str, str] = field(default_factory=dict)
    fakes: dict[str, str] = field(default_factory=dict)
    #: The NATS server of the agent messages: the embedded one unless NATS_URL is configured.
    nats_url: str = ""
    #: moto's S3 server when :attr:`artifact_bucket` is set (not a fake of
    #: :mod:`shared.local.fakes.base`: it has no ``/_fake/`` routes).
    artifact_repository_url: str = ""
    #: The function processes by Service name; restarted when they exit (module docstring).
    processes: dict[str, RunningFunction] = field(default_factory=dict)
    #: The in-process broker (:class:`shared.local.mesh.broker.LocalBroker`) once started.
    broker: Any = None
    _stoppers: list[Any] = field(default_factory=list)
    _embedded: Any = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _spawn_lock: threading.Lock = field(default_factory=threading.Lock)
    _watcher: threading.Thread | None = None
    _restarting: set[str] = field(default_factory=set)
    _build: list[dict[str, Any]] = field(default_factory=list)
    #: The api tokens made for this mesh (:mod:`shared.local.mesh.access`).
    access: UiAccess = field(default_factory=UiAccess)

    @property
    def embedded(self) -> Any:
        """The embedded Postgres the mesh started (pgserver's ``PostgresServer``: ``pgdata``,
        ``system_user``), or None when it uses ``DATABASE_URL``."""
        return self._embedded

    def urls(self) -> dict[str, Any]:
        """The one JSON line ``up`` prints: broker, functions, fakes and database URLs, the
        api's and the UI's, and the read-only token made for the UI."""
        return {
            "broker": self.broker_url,
            "functions": self.functions,
            "fakes": self.fakes,
            "artifact_repository": self.artifact_repository_url or None,
            "database_url": self.database_url,
            "nats": self.nats_url,
            **ui_urls(self.functions, self.access),
        }

    def start(
        self, *, ping_interval_s: float = 0.0, time_scale: float = 1.0, database: str | None = None
    ) -> Mesh:
        """Start every part; on any failure stop what was started and re-raise."""
        try:
            self._start_database(database)
            self._start_fakes()
            self._build = kustomize_build(ROOT, self.overlay)
            self._start_nats()
            self.access = local_tokens(self.settings, self.secrets)
            self._start_functions()
            self._start_broker(ping_interval_s=ping_interval_s, time_scale=time_scale)
        except BaseException:
            self.stop()
            raise
        state = Path(self.settings.data_dir) / "mesh.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps(self.urls(), indent=2))
        return self

    def _start_database(self, database: str | None) -> None:
        url = self.settings.database_url
        if not url:
            from shared.db.embedded import start_embedded

            url, self._embedded = start_embedded(Path(self.settings.data_dir))
        if database:  # a fresh, named database on the same server (the demo's), made like
            # CNPG's bootstrap: owned by a NOSUPERUSER role that migrates and serves it
            from shared.db.provision import bootstrap_database

            url = bootstrap_database(url, database, "codex_judge_app", recreate=True)
        db = Database(url, size=1)
        apply_migrations(db)
        db.close()
        self.database_url = url

    def _start_fakes(self) -> None:
        from shared.local.fakes import argo, argocd, discord, facteur, github
        from shared.local.fakes.base import serve_fake

        configured = self.settings.model_fields_set
        wanted = {
            "github": ("github_api_url" not in configured, github),
            "discord": (self.settings.discord_webhook_url is None, discord),
            "argo": (not self.settings.argo_server_url, argo),
            "facteur": (not self.settings.facteur_url, facteur),
            "argocd": (not self.settings.argocd_url, argocd),
        }
        for name, (needed, module) in wanted.items():
            if needed:
                served = serve_fake(module.create_app())
                self._stoppers.append(served.stop)
                self.fakes[name] = served.url
        if self.artifact_bucket and not self.settings.artifact_s3_endpoint_url:
            from shared.local.fakes.s3 import serve_s3

            bucket = serve_s3()
            self._stoppers.append(bucket.stop)
            self.artifact_repository_url = bucket.url

    def _start_nats(self) -> None:
        from shared.local.mesh.nats import start_for_mesh

        self.nats_url, stop = start_for_mesh(self.settings, self._build)
        if stop is not None:
            self._stoppers.append(stop)

    def _local_cluster(self) -> LocalCluster:
        """The stand-ins for what the cluster provides (shared/local/mesh/cluster.py,
        DIFFERENCES)."""
        upstreams: dict[str, str] = {}
        if "github" in self.fakes:
            upstreams["CODEX_JUDGE_GITHUB_API_URL"] = self.fakes["github"]
            # Worktree snapshots clone local repositories, never github.com (issue 13).
            git_root = Path(self.settings.data_dir).resolve() / "git"
            upstreams["CODEX_JUDGE_WORKTREE_CLONE_URL"] = git_root.as_uri() + "/{repo}"
        if "discord" in self.fakes:
            upstreams["CODEX_JUDGE_DISCORD_WEBHOOK_URL"] = (
                self.fakes["discord"] + FAKE_DISCORD_WEBHOOK
            )
        if "argo" in self.fakes:
            upstreams["CODEX_JUDGE_ARGO_SERVER_URL"] = self.fakes["argo"]
        if "facteur" in self.fakes:
            upstreams["CODEX_JUDGE_FACTEUR_URL"] = self.fakes["facteur"]
        if "argocd" in self.fakes:
            upstreams["CODEX_JUDGE_ARGOCD_URL"] = self.fakes["argocd"]
        if self.nats_url:
            upstreams["CODEX_JUDGE_NATS_URL"] = self.nats_url
        secrets = dict(self.secrets)
        if self.artifact_repository_url:
            from shared.local.fakes.s3 import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY

            upstreams["CODEX_JUDGE_ARTIFACT_S3_ENDPOINT_URL"] = self.artifact_repository_url
            upstreams["CODEX_JUDGE_ARTIFACT_STORES"] = "s3,argo-server"
            secrets.setdefault("CODEX_JUDGE_ARTIFACT_S3_ACCESS_KEY_ID", LOCAL_ACCESS_KEY_ID)
            secrets.setdefault("CODEX_JUDGE_ARTIFACT_S3_SECRET_ACCESS_KEY", LOCAL_SECRET_ACCESS_KEY)
        extra = {"PYTHONUNBUFFERED": "1", **self.extra_env}
        allowlist = [*self.settings.github_write_allowlist, *self.write_allowlist]
        if allowlist:
            extra["CODEX_JUDGE_GITHUB_WRITE_ALLOWLIST"] = ",".join(dict.fromkeys(allowlist))
        return LocalCluster(
            database_url=self.database_url,
            broker_url=self.broker_url,
            data_dir=Path(self.settings.data_dir).resolve(),
            secrets={SECRETS: secrets},
            upstreams=upstreams,
            extra_env=extra,
            inherited=inherited_environment(),
        )

    def _start_functions(self) -> None:
        log_dir = Path(self.settings.data_dir) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        broker_port = free_port()
        self.broker_url = f"http://127.0.0.1:{broker_port}{BROKER_PATH}"
        self._broker_port = broker_port
        processes = function_processes(self._build, self._local_cluster())
        for name, process in processes.items():
            port = free_port()
            log_path = log_dir / f"{name}.log"
            log_path.write_bytes(b"")
            function = RunningFunction(
                name=name,
                command=list(process.command),
                env={**process.env, "PORT": str(port), "HOST": "127.0.0.1"},
                cwd=Path(self.settings.data_dir).resolve(),
                log_path=log_path,
                url=f"http://127.0.0.1:{port}",
                serves_http=process.serves_http,
            )
            function.spawn()
            self.processes[name] = function
            if process.serves_http:
                self.functions[name] = function.url
        for function in self.processes.values():
            assert function.proc is not None
            function.wait_ready(function.proc)
        self._watcher = threading.Thread(target=self._watch, name="mesh-restarts", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        """Restart every function process that exits until :meth:`stop` (module docstring);
        each restart in its own thread, so one slow start delays no other."""
        while not self._stopping.wait(WATCH_INTERVAL_S):
            for function in list(self.processes.values()):
                proc = function.proc
                if proc is None or proc.poll() is None or function.name in self._restarting:
                    continue
                self._restarting.add(function.name)
                threading.Thread(
                    target=self._restart,
                    args=(function, proc.returncode),
                    name=f"mesh-restart:{function.name}",
                    daemon=True,
                ).start()

    def _restart(self, function: RunningFunction, code: int) -> None:
        try:
            self._restart_once(function, code)
        except Exception:  # the next pass tries again; the watcher must never die
            log.exception("restarting function %s failed", function.name)
        finally:
            self._restarting.discard(function.name)

    def _restart_once(self, function: RunningFunction, code: int) -> None:
        first, longest = RESTART_BACKOFF_S
        if function.backoff_s and time.monotonic() - function.started_at < BACKOFF_RESET_S:
            backoff = min(longest, function.backoff_s * 2)
        else:
            backoff = first
        function.backoff_s = backoff
        function.restarts += 1
        line = (
            f"function {function.name} exited with {code}; restarting (restart "
            f"#{function.restarts}) in {backoff:.1f} s"
        )
        log.warning("%s", line)
        function.note(line)
        function.kill_group()
        if self._stopping.wait(backoff):
            return
        with self._spawn_lock:
            if self._stopping.is_set():
                return
            proc = function.spawn()
        try:
            function.wait_ready(proc)
        except RuntimeError as exc:  # it exited again: the next pass restarts it, backed off
            log.warning("function %s did not become ready: %s", function.name, exc)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` (default SIGKILL, ``kill -9``) to function ``name``'s process, as a
        crash would; the watcher restarts it. Returns the pid that was signalled.

        Raises:
            KeyError: no function is called ``name``.
        """
        proc = self.processes[name].proc
        assert proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        return proc.pid

    def _start_broker(self, *, ping_interval_s: float, time_scale: float) -> None:
        from shared.local.mesh.broker import LocalBroker
        from shared.local.mesh.manifests import load_manifests

        broker = LocalBroker(
            load_manifests(ROOT, self.overlay),
            self.functions,
            time_scale=time_scale,
            ping_interval_s=ping_interval_s,
        )
        url = broker.start("127.0.0.1", self._broker_port)
        self.broker = broker
        self._stoppers.append(broker.stop)
        self.broker_url = url if url.endswith(BROKER_PATH) else url.rstrip("/") + BROKER_PATH

    def stop(self) -> None:
        """Stop the broker and fakes, terminate the functions, release the database."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=30)
            self._watcher = None
        for stop in reversed(self._stoppers):
            with contextlib.suppress(Exception):
                stop()
        self._stoppers.clear()
        with self._spawn_lock:  # no restart starts a process after this
            running = [f for f in self.processes.values() if f.proc is not None]
            for function in running:
                if function.proc is not None and function.proc.poll() is None:
                    function.proc.terminate()
        for function in running:
            assert function.proc is not None
            try:
                function.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                function.proc.kill()
            function.kill_group()
        self.processes.clear()
        self._embedded = None
