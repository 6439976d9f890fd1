"""``codex-judge up``: start the whole local mesh and stop everything it started (DESIGN §8).

Order: embedded Postgres (unless ``DATABASE_URL``) → migrations → fakes (GitHub, Discord, Argo,
Facteur, Argo CD: each one whose URL is not configured) → one process per Knative Service of the
overlay's kustomize build, started with the container command and environment its manifest
declares (:mod:`shared.mesh.cluster`, which names every local difference) → the local broker
(reading the same build's Broker, Triggers and sources). Each function is a real HTTP server in
its own process on its own loopback port; the broker delivers to them over HTTP.
The URLs are written to ``<data_dir>/mesh.json`` so ``codex-judge replay`` and ``runs`` find
them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.db import Database
from shared.db.migrate import apply_migrations
from shared.mesh.cluster import OVERLAY, LocalCluster, function_processes, kustomize_build
from shared.settings import Settings, inherited_environment

log = logging.getLogger("codex_judge.mesh")

ROOT = Path(__file__).resolve().parent.parent.parent
SECRETS = "codex-judge-secrets"
"""The Secret of tokens and webhook secrets every function mounts (knative/base)."""
BROKER_PATH = "/codex-judge/codex-judge"
FAKE_DISCORD_WEBHOOK = "/api/webhooks/1000/local-fake-token"


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    url: str, timeout_s: float = 60.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``GET url`` until it answers; raises RuntimeError on timeout or a dead process."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready within {timeout_s:.0f} s")


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
    database_url: str = ""
    broker_url: str = ""
    functions: dict[str, str] = field(default_factory=dict)
    fakes: dict[str, str] = field(default_factory=dict)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _stoppers: list[Any] = field(default_factory=list)
    _embedded: Any = None

    def urls(self) -> dict[str, Any]:
        """The one JSON line ``up`` prints: broker, functions, fakes and database URLs."""
        return {
            "broker": self.broker_url,
            "functions": self.functions,
            "fakes": self.fakes,
            "database_url": self.database_url,
        }

    def start(
        self, *, ping_interval_s: float = 0.0, time_scale: float = 1.0, database: str | None = None
    ) -> Mesh:
        """Start every part; on any failure stop what was started and re-raise."""
        try:
            self._start_database(database)
            self._start_fakes()
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
        from shared.fakes import argo, argocd, discord, facteur, github
        from shared.fakes.base import serve_fake

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

    def _local_cluster(self) -> LocalCluster:
        """The stand-ins for what the cluster provides (shared/mesh/cluster.py, DIFFERENCES)."""
        upstreams: dict[str, str] = {}
        if "github" in self.fakes:
            upstreams["CODEX_JUDGE_GITHUB_API_URL"] = self.fakes["github"]
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
        extra = {"PYTHONUNBUFFERED": "1", **self.extra_env}
        allowlist = [*self.settings.github_write_allowlist, *self.write_allowlist]
        if allowlist:
            extra["CODEX_JUDGE_GITHUB_WRITE_ALLOWLIST"] = ",".join(dict.fromkeys(allowlist))
        return LocalCluster(
            database_url=self.database_url,
            broker_url=self.broker_url,
            data_dir=Path(self.settings.data_dir).resolve(),
            secrets={SECRETS: dict(self.secrets)},
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
        processes = function_processes(kustomize_build(ROOT, self.overlay), self._local_cluster())
        for name, process in processes.items():
            port = free_port()
            logfile = (log_dir / f"{name}.log").open("wb")
            proc = subprocess.Popen(
                list(process.command),
                env={**process.env, "PORT": str(port), "HOST": "127.0.0.1"},
                cwd=Path(self.settings.data_dir).resolve(),
                stdout=logfile,
                stderr=subprocess.STDOUT,
            )
            self._procs.append(proc)
            self.functions[name] = f"http://127.0.0.1:{port}"
        for (_name, url), proc in zip(self.functions.items(), self._procs, strict=True):
            wait_ready(url, proc=proc)

    def _start_broker(self, *, ping_interval_s: float, time_scale: float) -> None:
        from shared.mesh.broker import LocalBroker
        from shared.mesh.manifests import load_manifests

        broker = LocalBroker(
            load_manifests(ROOT, self.overlay),
            self.functions,
            time_scale=time_scale,
            ping_interval_s=ping_interval_s,
        )
        url = broker.start("127.0.0.1", self._broker_port)
        self._stoppers.append(broker.stop)
        self.broker_url = url if url.endswith(BROKER_PATH) else url.rstrip("/") + BROKER_PATH

    def stop(self) -> None:
        """Stop the broker and fakes, terminate the functions, release the database."""
        for stop in reversed(self._stoppers):
            with contextlib.suppress(Exception):
                stop()
        self._stoppers.clear()
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._procs.clear()
        self._embedded = None
