"""schemathesis against the running api (issue 14 "the OpenAPI document validated"): every
operation of ``/openapi.json`` is called over real HTTP, with an operator token, on a database
with runs, evaluations and dead letters in it, with inputs generated from the document itself —
and every answer must be no 5xx, a status the document declares, and a body and headers that
conform to the declared schema.

Both of schemathesis's generation modes: positive (inputs the document allows: answered 2xx or a
declared 4xx) and negative (inputs it forbids: a declared 4xx, never a 5xx). Bounded to seconds:
derandomized (the same examples on every run), a few examples per operation,
no shrinking. The agent-messages stream (``/api/agents/events``) is left out: it holds its
connection open by design and has its own tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.db import Database
from shared.settings import Settings
from tests.support.api_seed import (
    OPERATOR,
    Sink,
    api_settings,
    seed_dead_letter,
    seed_run,
)

EXAMPLES = 5
STREAM = "/api/agents/events"
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def settings(database_url: str, tmp_path: Path, broker: Sink) -> Settings:
    return api_settings(database_url, tmp_path, k_sink=broker.url)


def _seed(db: Database) -> None:
    for issue, status, decision in (
        (1, "needs_human", "needs_human"),
        (2, "needs_iteration", "needs_iteration"),
        (3, "completed", "pass"),
        (4, "waiting_for_ci", None),
    ):
        seed_run(db, issue=issue, status=status, decision=decision)
    seed_dead_letter(db)


def _exercise(operation: Any, mode: GenerationMode, api: str, calls: dict[str, int]) -> None:
    """Call ``operation`` with ``EXAMPLES`` inputs of ``mode``, each answer checked; counts the
    calls in ``calls`` under ``"<label> <mode>"``."""
    label = f"{operation.label} {mode.value}"
    headers = {"Authorization": f"Bearer {OPERATOR}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def exercise(case: Any) -> None:
        response = case.call(base_url=api, headers=headers)
        case.validate_response(response, checks=CHECKS)
        calls[label] = calls.get(label, 0) + 1

    exercise()


def test_schemathesis_finds_no_5xx_and_only_schema_conformant_answers(
    api: str, db: Database
) -> None:
    _seed(db)
    schema = schemathesis.openapi.from_url(api + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path != STREAM]
    calls: dict[str, int] = {}
    for operation in operations:
        for mode in GenerationMode:
            if operation.path == "/healthz" and mode is GenerationMode.NEGATIVE:
                continue  # it takes no input to get wrong
            _exercise(operation, mode, api, calls)
    # Every operation but the stream was called, each with several inputs (but /healthz, which
    # takes none), the actions included.
    called = {label.rsplit(" ", 1)[0] for label in calls}
    assert called == {op.label for op in operations}
    assert {"POST /api/runs/{run_id}/rerun", "GET /api/policies/{owner}/{repo}/findings"} <= called
    assert all(n > 1 for label, n in calls.items() if "/healthz" not in label)
