"""The anti-gaming gate on real commits (``tests/fixtures/antigaming``): every gaming kind is
caught, and the legitimate commits it blocks are exactly the known ones.

Two variants per kind keep the suite cheap; ``make bench`` measures every variant. The
known false blocks are real commits that do check less than before and that nothing in the
change explains (a test lost in a move, a rewrite that drops checks, a running test deleted,
a test of kept behaviour deleted where its siblings were ported); they go to a human.
When a rule learns to tell one of them apart, it leaves this list.
"""

from __future__ import annotations

import pytest

from tests.support.antigaming.kinds import KINDS
from tests.support.antigaming.rates import Rates, measure

PER_KIND = 2
KNOWN_FALSE_BLOCKS = sorted(
    [
        "click-a391797d00",  # a move that lost test_prompt_cast_default (re-added later)
        "httpx-1805ee0d22",  # a lazy-loading test deleted, not ported like its siblings
        "httpx-5b5f6d8e17",  # test_url rewritten without its copy_with(port=None) checks
        "httpx-eeb5e3c2a3",  # a running (Python >= 3.11) test deleted, no code change
    ]
)


@pytest.fixture(scope="module")
def rates() -> Rates:
    return measure(PER_KIND)


def test_every_gaming_kind_is_caught_in_at_least_95_percent_of_its_variants(rates: Rates) -> None:
    assert {kind for kind, n in rates.variants.items() if n == 0} == set()
    assert len(rates.variants) == len(KINDS)
    missed = {k: rates.missed[k] for k in KINDS if rates.catch_rate(k) < 0.95}
    assert missed == {}


def test_legitimate_commits_blocked_are_the_known_ones(rates: Rates) -> None:
    assert rates.legitimate == 150
    assert sorted(rates.false_blocks) == KNOWN_FALSE_BLOCKS
    assert rates.false_block_rate == pytest.approx(len(KNOWN_FALSE_BLOCKS) / 150)
