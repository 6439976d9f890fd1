"""seal_matches: which live changes block a merge of the sealed decision."""

from __future__ import annotations

from shared.runs.seal import LiveState, Seal, SealedCheck, SealedThread, seal_matches

SHA = "a" * 40
CHECK = SealedCheck(
    kind="check_run", id=1, name="build", app="github-actions", conclusion="success"
)
SEALED = Seal(
    head_sha=SHA,
    base_sha="b" * 40,
    check_runs=[CHECK],
    review_threads=[SealedThread(id="T1", resolved=True)],
    diff_hash="d" * 64,
    policy_hash="p" * 64,
)


def live(**changes: object) -> LiveState:
    base = SEALED.model_dump(include=set(LiveState.model_fields))
    return LiveState.model_validate({**base, **changes})


def test_identical_live_state_matches() -> None:
    assert seal_matches(SEALED, live()) == []


def test_moved_head_and_changed_diff_block_the_merge() -> None:
    drift = seal_matches(SEALED, live(head_sha="c" * 40, diff_hash="e" * 64))
    assert [(d.field, d.blocking) for d in drift] == [("head_sha", True), ("diff_hash", True)]


def test_a_moved_base_and_a_rerun_check_with_the_same_result_only_inform() -> None:
    rerun = CHECK.model_copy(update={"id": 2})
    drift = seal_matches(SEALED, live(base_sha="f" * 40, check_runs=[rerun]))
    assert [(d.field, d.blocking) for d in drift] == [
        ("base_sha", False),
        ("check_runs[build@github-actions].id", False),
    ]


def test_a_new_failing_check_or_a_reopened_thread_blocks() -> None:
    late = SealedCheck(kind="check_run", id=9, name="e2e", app="ci", conclusion="failure")
    drift = seal_matches(
        SEALED,
        live(
            check_runs=[CHECK, late],
            review_threads=[
                SealedThread(id="T1", resolved=False),
                SealedThread(id="T2", resolved=True),
            ],
        ),
    )
    assert [(d.field, d.sealed, d.live) for d in drift] == [
        ("check_runs[e2e@ci]", None, "failure"),
        ("review_threads[T1]", "resolved", "unresolved"),
    ]
    assert all(d.blocking for d in drift)
