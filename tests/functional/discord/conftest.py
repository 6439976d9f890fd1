"""The fake Discord both discord modules post to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.local.fakes import discord as fake_discord
from shared.local.fakes.base import ServedFake, serve_fake


@pytest.fixture
def discord_fake() -> Iterator[ServedFake]:
    served = serve_fake(fake_discord.create_app())
    yield served
    served.stop()
