"""The crash-point fixtures both effect modules use: the cuttable database proxy and the
recording Broker sink (:mod:`tests.support.cut_after`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cut_after import database_proxy, recording_sink
from tests.support.tcp_proxy import CuttableProxy


@pytest.fixture
def proxy(database_url: str) -> Iterator[CuttableProxy]:
    with database_proxy(database_url) as cuttable:
        yield cuttable


@pytest.fixture
def sink() -> Iterator[tuple[str, list[dict[str, str]]]]:
    with recording_sink() as recorded:
        yield recorded
