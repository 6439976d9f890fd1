"""Failure fingerprints: the same wall hashes the same across commits and times."""

from __future__ import annotations

from shared.gates.fingerprints import changes_since, error_lines, fingerprint


def test_same_failure_on_another_commit_and_time_has_the_same_fingerprint() -> None:
    first = fingerprint(
        decision="needs_iteration",
        reason_codes=["ci_failed"],
        ci_summary={"failing": ["unit-tests"]},
        log_excerpt="2026-11-20T10:00:01Z FAILED tests/test_a.py::test_b - assert 3 == 4 (abc1234)",
    )
    second = fingerprint(
        decision="needs_iteration",
        reason_codes=["ci_failed"],
        ci_summary={"failing": ["unit-tests"]},
        log_excerpt="2026-11-21T08:30:59Z FAILED tests/test_a.py::test_b - assert 7 == 9 (def5678)",
    )
    assert first.digest == second.digest and first.digest is not None
    assert first.parts[0] == "check:unit-tests"


def test_gate_codes_are_the_fingerprint_when_no_check_failed_and_a_pass_has_none() -> None:
    gated = fingerprint(
        decision="needs_iteration", reason_codes=["empty_diff"], ci_summary=None, log_excerpt=None
    )
    assert gated.parts == ["gate:empty_diff"]
    passed = fingerprint(
        decision="pass", reason_codes=["offline_pass"], ci_summary=None, log_excerpt=""
    )
    assert passed.digest is None and passed.parts == []


def test_error_lines_skip_noise_and_keep_at_most_ten() -> None:
    log = "collecting\n" + "\n".join(f"ERROR at step {i} in '/tmp/x{i}'" for i in range(30))
    lines = error_lines(log)
    assert lines == ["ERROR at step <n> in <str>"]


def test_changes_since_names_fixed_new_and_remaining_failures() -> None:
    text = changes_since(["check:lint", "check:unit"], ["check:unit", "gate:x"], 2)
    assert text.splitlines() == [
        "Since attempt 2:",
        "- fixed: failing check lint",
        "- new: finding x",
        "- still failing: failing check unit",
    ]
    assert "nothing changed" in changes_since(["check:a"], ["check:a"], 1)
