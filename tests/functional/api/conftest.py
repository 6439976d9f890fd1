"""Fixtures every api test module shares: the recording Broker the api's actions publish to,
and the api function served over real HTTP (each module brings its own ``settings``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api_seed import Sink, recording_broker


@pytest.fixture
def broker() -> Iterator[Sink]:
    with recording_broker() as sink:
        yield sink


@pytest.fixture
def api(function_url: Any) -> str:
    return str(function_url("api"))
