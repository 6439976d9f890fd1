"""A small seeded soak: 10 repositories, duplicates and reordered bursts, ``kill -9`` of
functions, upstream 502/429/secondary-rate-limit answers and a Postgres stop/start; every
invariant of :mod:`tests.soak.invariants` must hold (issue 10).

Marked ``soak`` and deselected by default (``addopts``); run it with ``pytest -m soak``. It
starts its own mesh on its own embedded Postgres (so the outage disturbs no other test), about
1.5 minutes on two cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.soak.faults import FaultPlan
from tests.soak.harness import SoakOptions, run_soak

pytestmark = pytest.mark.soak


@pytest.mark.timeout(600)
def test_small_soak_under_faults_keeps_every_invariant(tmp_path: Path) -> None:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the soak stops its own embedded Postgres; DATABASE_URL is shared")
    report = run_soak(
        SoakOptions(repos=10, seed=7, faults=FaultPlan(kill_every_s=3.0), fault_tail_s=15.0),
        tmp_path,
    )
    print(report.table())
    assert report.stats["kills"] > 0 and report.stats["postgres_restarts"] == 1
    assert report.stats["upstream_faults_answered"] > 0
    assert report.ok, report.table()
