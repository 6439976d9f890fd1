"""The anti-gaming gate on real commits (``tests/fixtures/antigaming``): every gaming kind is
caught, and the legitimate commits it blocks are exactly the known ones.

Two variants per kind keep the suite cheap; ``make bench`` measures every variant. The
known false blocks are real commits whose removed test or assertion no structural rule can
tell from gaming (a test dropped by a refactor, an assertion dropped with a dependency
update, tests rewritten under new names); they go to a human.
When a rule learns to tell one of them apart, it leaves this list.
"""

from __future__ import annotations

import pytest

from tests.support.antigaming.kinds import KINDS
from tests.support.antigaming.rates import Rates, measure

PER_KIND = 2
KNOWN_FALSE_BLOCKS = sorted(
    [
        "click-a391797d00",  # a refactor that dropped test_prompt_cast_default
        "cobra-8519630750",  # an assertion dropped with a go-md2man update
        "express-723b5451bb",  # a test for a status the change now rejects, rewritten
        "express-9c85a25c02",  # duplicate titles removed (bodies differ slightly)
        "gson-866bc38923",  # tests of the old default map removed with that default
        "httpx-1805ee0d22",  # a lazy-loading test removed with the lazy loading
        "httpx-59914c7690",  # netrc tests rewritten around a new NetRCAuth class
        "httpx-5b5f6d8e17",  # a test split into several under new names
        "httpx-eeb5e3c2a3",  # "cleanup unnecessary test case"
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
