"""The local processes of the mesh: a free loopback port, the readiness wait, and one
function's process with what it takes to start it again (restarts: :mod:`shared.local.mesh.
supervisor`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


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
class RunningFunction:
    """One function's process and what it takes to start it again.

    Attributes:
        name: the Knative Service name (``run-complete``).
        command: the container command, executable resolved locally.
        env: the full environment, ``PORT`` and ``HOST`` included.
        cwd: the working directory (the mesh's data directory).
        log_path: where stdout and stderr go (appended across restarts).
        url: ``http://127.0.0.1:<port>``, the same across restarts.
        proc: the running process (the process group leader).
        serves_http: False for a Deployment (no port, no readiness probe, not delivered to).
        restarts: how many times it was restarted (never reset, like a Pod's restart count).
        backoff_s: the last back-off before a restart, seconds (0 before the first).
        started_at: ``time.monotonic()`` of the last start.
    """

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    url: str
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    backoff_s: float = 0.0
    started_at: float = 0.0
    serves_http: bool = True

    def wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait for its readiness answer (a workload that serves no HTTP is ready when started).

        Raises:
            RuntimeError: it exited, or did not answer in time.
        """
        if self.serves_http:
            wait_ready(self.url, proc=proc)

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process in a new process group (a container's processes); returns it."""
        with self.log_path.open("ab") as logfile:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        return self.proc

    def kill_group(self) -> None:
        """SIGKILL whatever is left of the process group (orphaned workers); never raises."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def note(self, line: str) -> None:
        """Append one line to the function's log file, as the container runtime's events."""
        with self.log_path.open("a") as logfile:
            logfile.write(f"[mesh] {line}\n")
