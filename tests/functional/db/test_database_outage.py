"""A transient database outage is answered 503 (Knative retries), and the retried delivery
succeeds with nothing lost (DESIGN §6)."""

from __future__ import annotations

import base64
import json

import httpx

from shared import bootstrap
from shared.db import Database
from shared.db.pool import connect_params
from tests.support.backends import terminate_idle_backends
from tests.support.tcp_proxy import CuttableProxy

SQL_PID = "SELECT pg_backend_pid() AS pid"


def _event(event_id: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/broker/codex-judge",
        "ce-type": "io.codexjudge.run.completed.v1",
        "ce-knativeerrordest": "http://judge.codex-judge.svc.cluster.local",
        "ce-knativeerrorcode": "500",
        "ce-knativeerrordata": base64.b64encode(b'{"message": "boom"}').decode(),
    }


def test_outage_gives_503_and_the_retry_succeeds(settings, serve, database_url) -> None:
    import functions_framework

    from tests.conftest import ROOT

    params = connect_params(database_url)
    target = params.get("unix_sock") or (params["host"], params["port"])
    with CuttableProxy(target) as proxy:
        proxied = f"postgresql://{params['user']}@127.0.0.1:{proxy.port}/{params['database']}"
        container = bootstrap.build(settings.model_copy(update={"database_url": proxied}))
        bootstrap.install(container)
        try:
            app = functions_framework.create_app(
                target="handle",
                source=str(ROOT / "functions/dead_letter/main.py"),
                signature_type="http",
            )
            url = serve(app).url
            first = httpx.post(url, headers=_event("e-1"), content=b'{"run_id": 1}')
            assert first.status_code == 202

            proxy.cut()
            during = httpx.post(url, headers=_event("e-2"), content=b'{"run_id": 2}')
            assert during.status_code == 503
            assert "database unavailable" in during.json()["message"]

            proxy.restore()
            retried = httpx.post(url, headers=_event("e-2"), content=b'{"run_id": 2}')
            assert retried.status_code == 202
        finally:
            bootstrap.install(None)
            container.db.close()

    direct = Database(database_url, size=1)
    with direct.transaction() as tx:
        rows = tx.all("SELECT event_id, data FROM runtime.dead_letters ORDER BY event_id")
    direct.close()
    assert [r["event_id"] for r in rows] == ["e-1", "e-2"]
    assert [json.loads(bytes(r["data"])) for r in rows] == [{"run_id": 1}, {"run_id": 2}]


def test_an_idle_connection_the_server_closed_is_replaced_before_use(database_url: str) -> None:
    """Postgres restarted (or terminated the backends) while the pool's connections sat idle:
    the next transaction runs on a new connection instead of failing on a dead one — a failure
    there, on an effect's record after the upstream call, repeated a Discord notice (issue 10)."""
    db = Database(database_url, size=2)
    try:
        with db.transaction() as first, db.transaction() as second:  # two idle afterwards
            used = {first.one(SQL_PID)["pid"], second.one(SQL_PID)["pid"]}  # type: ignore[index]
        assert set(terminate_idle_backends(database_url)) >= used
        for _ in range(3):
            with db.transaction() as tx:
                row = tx.one(SQL_PID)
            assert row is not None and row["pid"] not in used
    finally:
        db.close()
