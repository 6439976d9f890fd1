"""Guarded GitHub writes: dry run, the write allow-list, the effects outbox and the audit row,
in that order, for every write any function makes (issue 5 "Effects outbox"; DESIGN §5, §11).

:func:`github_write` is the only way a use case writes to GitHub:

1. ``dry_run`` → nothing is sent; ``github.write_actions`` records what would have been sent
   (``mode = 'dry_run'``, outcome ``dry_run``);
2. a repository not on ``settings.github_write_allowlist`` (``owner/name``, case-insensitive)
   → nothing is sent; recorded with ``mode = 'refused'``, outcome ``repository_not_allowed``;
3. otherwise the call goes through :func:`shared.effects.outbox.perform` under the caller's
   idempotency key, so a duplicate, retried or concurrent delivery never sends it twice: it
   gets the recorded answer back. The answer (status and body) is recorded with
   ``mode = 'live'`` and the outcome ``classify(answer)`` gives it.

The audit row is written in the caller's transaction (``tx``), together with the run's status
change; the effect row is committed on its own before and after the call, so a crash between
the two only means the redelivery writes the audit row from the recorded effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared.bootstrap import Container
from shared.db import Tx
from shared.effects import outbox
from shared.ports import GitHubWriter, WriteAnswer
from shared.settings import Settings

WriteMode = Literal["live", "dry_run", "refused"]
REPOSITORY_NOT_ALLOWED = "repository_not_allowed"
DRY_RUN = "dry_run"

SQL_RECORD = """
INSERT INTO github.write_actions
    (idempotency_key, run_id, repository, action, mode, request, response, http_status, outcome)
VALUES (:key, :run_id, :repository, :action, :mode, CAST(:request AS jsonb),
        CAST(:response AS jsonb), :http_status, :outcome)
ON CONFLICT (idempotency_key) DO UPDATE
    SET mode = EXCLUDED.mode, request = EXCLUDED.request, response = EXCLUDED.response,
        http_status = EXCLUDED.http_status, outcome = EXCLUDED.outcome, updated_at = now()
"""
SQL_GET = """
SELECT idempotency_key, run_id, repository, action, mode, request, response, http_status,
       outcome
  FROM github.write_actions WHERE idempotency_key = :key
"""


@dataclass(frozen=True)
class WriteResult:
    """What became of one guarded write.

    Attributes:
        mode: ``live`` (sent now or earlier), ``dry_run`` or ``refused`` (not sent).
        outcome: ``dry_run``, ``repository_not_allowed`` or ``classify(answer)``.
        answer: GitHub's answer for a live write, else None.
        performed_now: True when this call sent the request.
    """

    mode: WriteMode
    outcome: str
    answer: WriteAnswer | None
    performed_now: bool = False


def default_outcome(answer: WriteAnswer) -> str:
    """``success`` for a 2xx answer, else ``rejected_<status>``."""
    return "success" if answer.ok else f"rejected_{answer.status}"


def is_allowed(settings: Settings, repository: str) -> bool:
    """Whether ``repository`` (``owner/name``) is on the write allow-list (case-insensitive)."""
    allowed = {name.lower() for name in settings.github_write_allowlist}
    return repository.lower() in allowed


def github_write(
    tx: Tx,
    deps: Container,
    *,
    key: str,
    action: str,
    repository: str,
    run_id: int | None,
    request: dict[str, Any],
    dry_run: bool,
    call: Callable[[GitHubWriter], WriteAnswer],
    classify: Callable[[WriteAnswer], str] = default_outcome,
    recovery: outbox.Recovery | None = None,
) -> WriteResult:
    """Send (or record without sending) one GitHub write, at most once per ``key``.

    Args:
        tx: the caller's open transaction; the audit row is written in it.
        deps: the container (database, settings, GitHub writer).
        key: the idempotency key, e.g. ``merge:<repo>#<pr>@<sha>``.
        action: what the write is (``merge``, ``delete_branch``, ``create_pull`` …).
        repository: the target ``owner/name``.
        run_id: the run the write belongs to, or None.
        request: what is sent (stored as evidence; JSON-serialisable).
        dry_run: record only (policy ``dry_run``).
        call: sends the write through the writer it is given.
        classify: turns GitHub's answer into the recorded outcome.
        recovery: the owner that finishes the write if this worker dies before ``tx`` commits
            (:class:`shared.effects.outbox.Recovery`); retired in ``tx``.

    Returns:
        The :class:`WriteResult`.

    Raises:
        ConflictError: another worker is sending the same write right now (409).
        TransientError: GitHub failed transiently (5xx, rate limit); nothing was recorded as
            done and the redelivery sends again.
    """

    def record(mode: WriteMode, outcome: str, answer: WriteAnswer | None) -> None:
        record_write(
            tx,
            key=key,
            run_id=run_id,
            repository=repository,
            action=action,
            mode=mode,
            request=request,
            response=answer.body if answer else None,
            http_status=answer.status if answer else None,
            outcome=outcome,
        )

    if dry_run:
        record("dry_run", DRY_RUN, None)
        return WriteResult("dry_run", DRY_RUN, None)
    if not is_allowed(deps.settings, repository):
        record("refused", REPOSITORY_NOT_ALLOWED, None)
        return WriteResult("refused", REPOSITORY_NOT_ALLOWED, None)

    def send() -> dict[str, Any]:
        answer = call(deps.github_writer())
        return {"status": answer.status, "body": answer.body}

    result = outbox.perform(
        deps.db,
        key=key,
        kind=f"github.{action}",
        run_id=run_id,
        request={"repository": repository, **request},
        call=send,
        recovery=recovery,
    )
    outbox.settle(tx, key, recovery)
    response = result.response or {}
    answer = WriteAnswer(status=int(response.get("status") or 0), body=response.get("body") or {})
    outcome = classify(answer)
    record("live", outcome, answer)
    return WriteResult("live", outcome, answer, performed_now=result.performed_now)


def record_write(
    tx: Tx,
    *,
    key: str,
    run_id: int | None,
    repository: str,
    action: str,
    mode: WriteMode,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    http_status: int | None,
    outcome: str,
) -> None:
    """Insert or update the ``github.write_actions`` row of ``key`` in ``tx``.

    :func:`github_write` calls it for every write; a use case calls it directly to record a
    write it found already done on GitHub (e.g. a PR merged before the merge call).
    """
    tx.run(
        SQL_RECORD,
        key=key,
        run_id=run_id,
        repository=repository,
        action=action,
        mode=mode,
        request=json.dumps(request, default=str),
        response=None if response is None else json.dumps(response, default=str),
        http_status=http_status,
        outcome=outcome,
    )


def recorded_write(tx: Tx, key: str) -> dict[str, Any] | None:
    """The ``github.write_actions`` row of ``key``, or None."""
    return tx.one(SQL_GET, key=key)
