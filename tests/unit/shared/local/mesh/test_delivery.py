"""Knative delivery semantics: ISO-8601 durations, backoff, which answers are retried, the
Retry-After wait, and the error extensions of a dead-lettered event."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from shared.local.mesh.delivery import (
    DeliveryPolicy,
    Outcome,
    classify,
    dead_letter_extensions,
    parse_duration,
    retry_after_s,
)
from shared.local.mesh.manifests import DeliverySpec

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT0.2S", 0.2),
        ("PT1S", 1.0),
        ("PT1M", 60.0),
        ("PT1M30S", 90.0),
        ("PT2H", 7200.0),
        ("P1D", 86400.0),
        ("P1DT1H", 90000.0),
        ("P1W", 604800.0),
        ("PT0,5S", 0.5),
        ("pt10s", 10.0),
    ],
)
def test_iso_8601_durations_are_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "10s", "PT-1S", "P1M", "P1Y", "1.5"])
def test_malformed_durations_are_rejected_naming_the_field(text: str) -> None:
    with pytest.raises(ValueError, match=r"delivery\.backoffDelay: .* ISO-8601 duration"):
        parse_duration(text, "delivery.backoffDelay")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (None, Outcome.RETRY),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (404, Outcome.RETRY),
        (408, Outcome.RETRY),
        (409, Outcome.RETRY),
        (429, Outcome.RETRY),
        (400, Outcome.DEAD_LETTER),
        (401, Outcome.DEAD_LETTER),
        (403, Outcome.DEAD_LETTER),
        (410, Outcome.DEAD_LETTER),
        (422, Outcome.DEAD_LETTER),
        (302, Outcome.DEAD_LETTER),
    ],
)
def test_knative_retries_5xx_404_408_409_429_and_network_errors_only(
    status: int | None, outcome: Outcome
) -> None:
    assert classify(status) is outcome


def test_exponential_backoff_doubles_from_the_delay() -> None:
    policy = DeliveryPolicy.from_spec(DeliverySpec(retry=3, backoff_delay="PT0.5S"))
    assert [policy.backoff_s(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]


def test_linear_backoff_grows_by_the_delay() -> None:
    policy = DeliveryPolicy.from_spec(
        DeliverySpec(retry=3, backoff_policy="linear", backoff_delay="PT0.5S")
    )
    assert [policy.backoff_s(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]


def test_retries_stop_after_the_declared_count() -> None:
    policy = DeliveryPolicy.from_spec(DeliverySpec(retry=2, backoff_delay="PT1S"))
    assert policy.next_delay_s(1, 503) == 2.0
    assert policy.next_delay_s(2, None) == 4.0
    assert policy.next_delay_s(3, 503) is None


def test_a_permanent_answer_is_never_retried() -> None:
    policy = DeliveryPolicy.from_spec(DeliverySpec(retry=5, backoff_delay="PT1S"))
    assert policy.next_delay_s(1, 422) is None
    assert policy.next_delay_s(1, 400) is None


def test_no_delivery_spec_means_one_attempt() -> None:
    assert DeliveryPolicy.from_spec(None).next_delay_s(1, 503) is None


def test_retry_after_on_429_and_503_waits_at_least_that_long() -> None:
    policy = DeliveryPolicy.from_spec(DeliverySpec(retry=3, backoff_delay="PT0.1S"))
    assert policy.next_delay_s(1, 429, {"Retry-After": "7"}, NOW) == 7.0
    assert (
        policy.next_delay_s(1, 503, {"retry-after": "Sat, 01 Mar 2025 12:00:30 GMT"}, NOW) == 30.0
    )
    # Retry-After is only honoured on 429/503; a 500 keeps the backoff.
    assert policy.next_delay_s(1, 500, {"Retry-After": "7"}, NOW) == pytest.approx(0.2)


def test_retry_after_is_capped_by_retry_after_max() -> None:
    policy = DeliveryPolicy.from_spec(
        DeliverySpec(retry=3, backoff_delay="PT0.1S", retry_after_max="PT5S")
    )
    assert policy.next_delay_s(1, 429, {"Retry-After": "600"}, NOW) == 5.0


def test_unreadable_or_past_retry_after_does_not_extend_the_wait() -> None:
    assert retry_after_s({"Retry-After": "soon"}, NOW) is None
    assert retry_after_s({"Retry-After": "Sat, 01 Mar 2025 11:00:00 GMT"}, NOW) == 0.0
    assert retry_after_s({}, NOW) is None


def test_timeout_defaults_and_is_read_from_the_spec() -> None:
    assert DeliveryPolicy.from_spec(DeliverySpec(timeout="PT2S")).timeout_s == 2.0
    assert DeliveryPolicy.from_spec(DeliverySpec()).timeout_s == 30.0
    with pytest.raises(ValueError, match=r"delivery\.timeout"):
        DeliveryPolicy.from_spec(DeliverySpec(timeout="2s"))


def test_dead_letter_extensions_carry_destination_code_and_truncated_body() -> None:
    body = b'{"error": "InvalidDataError"}' + b"x" * 2000
    ext = dead_letter_extensions("http://judge.codex-judge.svc.cluster.local", 422, body)
    assert ext["knativeerrordest"] == "http://judge.codex-judge.svc.cluster.local"
    assert ext["knativeerrorcode"] == "422"
    assert base64.b64decode(ext["knativeerrordata"]) == body[:1024]


def test_dead_letter_after_a_network_error_has_no_code() -> None:
    ext = dead_letter_extensions("http://judge.codex-judge.svc.cluster.local", None, b"")
    assert ext == {"knativeerrordest": "http://judge.codex-judge.svc.cluster.local"}
