"""Every function's route table (``ROUTES`` in its ``main.py``, :mod:`shared.runtime.routing`) names
exactly the CloudEvent types its Trigger(s) in the dev build admit, and the router's one rule
for a type without a route.

The types a Trigger admits are read from ``spec.filters`` (Knative "Trigger filters"): ``exact``
and ``prefix`` on ``type`` are types; ``all`` narrows (one type constraint among its
expressions), ``any`` unions; a filter on any other attribute (``timerowner``, ``decision``,
the KafkaSource's ``source``) narrows what arrives but adds no type.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import pytest

from shared.local.mesh.kustomize import kustomize_build
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome
from shared.runtime.routing import Routes
from tests.conftest import ROOT

#: Subscribers that do not dispatch on the type, each with why (their main.py says so too):
#: a Trigger for them selects one source, and the payload says what it is.
TYPE_AGNOSTIC = {
    "run-complete": "an Argo completion in any CloudEvent; the Trigger picks the KafkaSource",
    "github-webhook": "dispatches on X-GitHub-Event; the Trigger picks the KafkaSource",
}


@dataclass(frozen=True)
class Types:
    """The types a filter admits: whole types and prefixes."""

    exact: frozenset[str] = frozenset()
    prefix: frozenset[str] = frozenset()

    def __or__(self, other: Types) -> Types:
        return Types(self.exact | other.exact, self.prefix | other.prefix)


def admitted(expression: dict[str, Any]) -> Types | None:
    """The types one filter expression admits; None when it does not constrain the type."""
    ((dialect, body),) = expression.items()
    if dialect in ("exact", "prefix", "suffix"):
        ((attribute, value),) = body.items()  # Knative: one attribute per expression
        if attribute != "type":
            return None
        if dialect == "suffix":
            raise NotImplementedError(
                "a suffix on type: teach this walker and shared.runtime.routing"
            )
        return (
            Types(exact=frozenset({value}))
            if dialect == "exact"
            else Types(prefix=frozenset({value}))
        )
    if dialect == "all":
        return _all(admitted(e) for e in body)
    if dialect == "any":
        found = [admitted(e) for e in body]
        if any(t is None for t in found):
            return None
        return _union(cast(list[Types], found))
    raise NotImplementedError(f"filter dialect {dialect!r}: teach this walker")


def _all(found: Iterable[Types | None]) -> Types | None:
    constraints = [t for t in found if t is not None]
    if len(constraints) > 1:
        raise NotImplementedError("two type constraints in one `all`: teach this walker")
    return constraints[0] if constraints else None


def _union(found: Iterable[Types]) -> Types:
    total = Types()
    for types in found:
        total |= types
    return total


def trigger_types(trigger: dict[str, Any]) -> Types | None:
    """The types a Trigger admits (``spec.filters`` is an implicit ``all``; the older
    ``spec.filter.attributes`` matches exactly)."""
    spec = trigger["spec"]
    if "filters" in spec:
        return _all(admitted(e) for e in spec["filters"])
    kind = (spec.get("filter") or {}).get("attributes", {}).get("type")
    return Types(exact=frozenset({kind})) if kind else None


@cache
def subscribed() -> dict[str, Types | None]:
    """Knative Service name → the types its Triggers in the dev build admit (None: any)."""
    found: dict[str, Types | None] = {}
    for obj in kustomize_build(ROOT):
        if obj.get("kind") != "Trigger":
            continue
        name = obj["spec"]["subscriber"]["ref"]["name"]
        types = trigger_types(obj)
        before = found.get(name, Types())
        found[name] = None if types is None or before is None else before | types
    return found


def routes_of(service: str) -> Routes | None:
    """The ``ROUTES`` of ``functions/<service in snake_case>/main.py``, if it has one."""
    module = importlib.import_module(f"functions.{service.replace('-', '_')}.main")
    routes = getattr(module, "ROUTES", None)
    assert routes is None or isinstance(routes, Routes), f"{service}: ROUTES is not a Routes"
    return routes


def mismatches(service: str, routes: Routes, types: Types | None) -> list[str]:
    """What differs between a function's table and its Triggers, one line each."""
    if types is None:
        return [f"{service}: its Trigger admits every type; a route table cannot match it"]
    exact, prefix = routes.keys()
    problems = [
        f"{service}: the Trigger admits type {t}, the table lacks it"
        for t in sorted(types.exact - exact)
    ]
    problems += [
        f"{service}: the Trigger admits prefix {p}, the table lacks it"
        for p in sorted(types.prefix - prefix)
    ]
    problems += [
        f"{service}: the table routes type {t}, the Trigger never admits it"
        for t in sorted(exact - types.exact)
    ]
    problems += [
        f"{service}: the table routes prefix {p}, the Trigger never admits it"
        for p in sorted(prefix - types.prefix)
    ]
    return problems


def functions_with_tables() -> list[str]:
    """Knative names of the function packages whose main.py has ``ROUTES``."""
    names = [
        p.parent.name.replace("_", "-") for p in sorted((ROOT / "functions").glob("*/main.py"))
    ]
    return [n for n in names if routes_of(n) is not None]


@pytest.mark.parametrize("service", sorted(set(subscribed()) - set(TYPE_AGNOSTIC)))
def test_each_route_table_names_exactly_the_types_its_trigger_admits(service: str) -> None:
    routes = routes_of(service)
    assert routes is not None, f"{service} has a Trigger but no ROUTES in its main.py"
    assert mismatches(service, routes, subscribed()[service]) == []


def test_every_route_table_has_a_trigger_and_type_agnostic_subscribers_have_none() -> None:
    tables = set(functions_with_tables())
    assert tables <= set(subscribed()), "a ROUTES table without a Trigger routes nothing"
    assert tables.isdisjoint(TYPE_AGNOSTIC)
    assert set(TYPE_AGNOSTIC) <= set(subscribed())
    assert tables | set(TYPE_AGNOSTIC) == set(subscribed())


def test_the_check_fails_when_a_table_lacks_a_type_its_trigger_admits() -> None:
    full = routes_of("judge")
    assert full is not None
    partial = Routes(
        exact={k: v for k, v in full.exact.items() if k != "io.codexjudge.timers.due.v1"}
    )
    assert mismatches("judge", partial, subscribed()["judge"]) == [
        "judge: the Trigger admits type io.codexjudge.timers.due.v1, the table lacks it"
    ]
    review = routes_of("review-gate")
    assert review is not None
    narrower = Routes(exact=dict(review.exact), prefix={"com.github.pull_request.": _handler("x")})
    assert (
        "review-gate: the Trigger admits prefix com.github.issue_comment., the table lacks it"
        in (mismatches("review-gate", narrower, subscribed()["review-gate"]))
    )


def test_attributes_other_than_type_narrow_but_add_no_type() -> None:
    merge = {
        "spec": {
            "filters": [
                {
                    "any": [
                        {"all": [{"exact": {"type": "a.v1"}}, {"exact": {"decision": "pass"}}]},
                        {"all": [{"exact": {"type": "t.v1"}}, {"exact": {"timerowner": "m"}}]},
                        {"prefix": {"type": "com.github.check_run."}},
                    ]
                }
            ]
        }
    }
    assert trigger_types(merge) == Types(
        exact=frozenset({"a.v1", "t.v1"}), prefix=frozenset({"com.github.check_run."})
    )
    by_source = {"spec": {"filters": [{"exact": {"type": "k"}}, {"suffix": {"source": "/s"}}]}}
    assert trigger_types(by_source) == Types(exact=frozenset({"k"}))


def _handler(note: str) -> Any:
    def handle(event: Envelope, ctx: Context) -> Outcome:
        return NoReply(note)

    return handle


def _dispatch(routes: Routes, event_type: str) -> Outcome:
    event = Envelope(id="1", source="/test", type=event_type)
    return routes.dispatch(event, cast(Context, None))


def test_exact_beats_prefix_and_the_longest_prefix_wins() -> None:
    routes = Routes(
        exact={"com.github.pull_request.synchronize": _handler("exact")},
        prefix={"com.github.": _handler("short"), "com.github.pull_request.": _handler("long")},
    )
    assert _dispatch(routes, "com.github.pull_request.synchronize") == NoReply("exact")
    assert _dispatch(routes, "com.github.pull_request.opened") == NoReply("long")
    assert _dispatch(routes, "com.github.pull_request_review.submitted") == NoReply("short")


def test_a_type_without_a_route_is_acknowledged_with_a_note_naming_it() -> None:
    routes = Routes(exact={"a.v1": _handler("a")})
    outcome = _dispatch(routes, "io.example.other.v1")
    assert isinstance(outcome, NoReply)
    assert outcome.note == "ignored event type io.example.other.v1"


def test_an_empty_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        Routes(prefix={"": _handler("everything")})
