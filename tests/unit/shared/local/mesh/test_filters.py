"""Trigger matching per Knative: ``filter.attributes`` and the ``filters`` dialects."""

from __future__ import annotations

import pytest

from shared.local.mesh.filters import (
    FilterError,
    attributes_match,
    evaluate,
    trigger_matches,
    validate,
)

CHECK_RUN = {
    "specversion": "1.0",
    "id": "d-1",
    "source": "https://github.com/o/r",
    "type": "com.github.check_run.completed",
    "subject": "o/r#12",
    "key": "o/r",
}


def test_empty_attribute_filter_matches_every_event() -> None:
    assert attributes_match({}, CHECK_RUN)


def test_attribute_filter_requires_every_attribute_to_match_exactly() -> None:
    assert attributes_match({"type": "com.github.check_run.completed", "key": "o/r"}, CHECK_RUN)
    assert not attributes_match({"type": "com.github.check_run.completed", "key": "o/x"}, CHECK_RUN)
    assert not attributes_match({"type": "com.github.check_run"}, CHECK_RUN)
    assert not attributes_match({"type": "COM.GITHUB.CHECK_RUN.COMPLETED"}, CHECK_RUN)


def test_empty_attribute_value_matches_any_value_but_not_a_missing_attribute() -> None:
    assert attributes_match({"subject": ""}, CHECK_RUN)
    assert not attributes_match({"partitionkey": ""}, CHECK_RUN)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"exact": {"type": "com.github.check_run.completed"}}, True),
        (
            {
                "all": [
                    {"exact": {"type": "com.github.check_run.completed"}},
                    {"exact": {"subject": "o/r#13"}},
                ]
            },
            False,
        ),
        ({"exact": {"missing": "x"}}, False),
        ({"prefix": {"type": "com.github.check_run."}}, True),
        ({"prefix": {"type": "com.github.check_suite."}}, False),
        ({"suffix": {"type": ".completed"}}, True),
        ({"suffix": {"type": ".created"}}, False),
        ({"all": [{"prefix": {"type": "com.github."}}, {"exact": {"key": "o/r"}}]}, True),
        ({"all": [{"prefix": {"type": "com.github."}}, {"exact": {"key": "o/x"}}]}, False),
        (
            {
                "any": [
                    {"exact": {"type": "com.github.status"}},
                    {"prefix": {"type": "com.github.check_run."}},
                ]
            },
            True,
        ),
        (
            {
                "any": [
                    {"exact": {"type": "com.github.status"}},
                    {"prefix": {"type": "com.github.workflow_run."}},
                ]
            },
            False,
        ),
        ({"not": {"exact": {"type": "com.github.status"}}}, True),
        ({"not": {"prefix": {"type": "com.github."}}}, False),
        (
            {
                "not": {
                    "any": [
                        {"suffix": {"type": ".created"}},
                        {"all": [{"exact": {"key": "o/r"}}, {"not": {"exact": {"id": "d-2"}}}]},
                    ]
                }
            },
            False,
        ),
    ],
)
def test_filter_dialects_follow_the_knative_semantics(expression: dict, expected: bool) -> None:
    assert evaluate(expression, CHECK_RUN) is expected


def test_every_filter_expression_in_the_list_must_be_true() -> None:
    both = [{"prefix": {"type": "com.github."}}, {"suffix": {"type": ".completed"}}]
    assert trigger_matches({}, both, CHECK_RUN)
    assert not trigger_matches({}, [*both, {"exact": {"subject": "o/r#1"}}], CHECK_RUN)


def test_filters_take_precedence_over_the_attribute_filter() -> None:
    assert trigger_matches(
        {"type": "com.github.status"}, [{"prefix": {"type": "com.github.check_run."}}], CHECK_RUN
    )
    assert not trigger_matches(
        {"type": "com.github.check_run.completed"},
        [{"exact": {"type": "com.github.status"}}],
        CHECK_RUN,
    )
    assert trigger_matches({"type": "com.github.check_run.completed"}, [], CHECK_RUN)


def test_cesql_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(FilterError, match=r"filters\[0\]\.cesql: CloudEvents SQL"):
        validate([{"cesql": "type LIKE 'com.github.%'"}])


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            [{"exact": {"type": "a"}, "prefix": {"type": "b"}}],
            r"filters\[0\]: expected exactly one",
        ),
        ([{}], r"filters\[0\]: expected exactly one dialect"),
        ([{"regex": {"type": "a.*"}}], r"filters\[0\]: unknown dialect 'regex'"),
        ([{"exact": {}}], r"filters\[0\]\.exact: expected exactly one attribute"),
        (
            [{"exact": {"type": "a", "decision": "pass"}}],
            r"filters\[0\]\.exact: expected exactly one attribute .*Knative rejects several",
        ),
        ([{"prefix": {"type": ""}}], r"filters\[0\]\.prefix\.type: the value must be"),
        ([{"exact": {"timerOwner": "x"}}], r"filters\[0\]\.exact\.timerOwner: an attribute name"),
        ([{"any": []}], r"filters\[0\]\.any: expected a non-empty list"),
        (
            [{"all": [{"exact": {"type": "a"}}, {"not": [{"exact": {"type": "b"}}]}]}],
            r"filters\[0\]\.all\[1\]\.not: expected one filter expression",
        ),
        (
            [{"prefix": {"type": "a"}}, {"any": [{"cesql": "true"}]}],
            r"filters\[1\]\.any\[0\]\.cesql",
        ),
    ],
)
def test_malformed_filters_name_the_offending_expression(filters: list, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        validate(filters)
