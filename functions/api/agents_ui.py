"""The agents channel in the web UI (issue 15): ``/ui/agents`` (the workflows with messages, and
the general channel), ``/ui/agents/<run id>`` and ``/ui/agents/general``.

A page renders the stored messages (markdown rendered safely: :mod:`shared.agents.render`; tool
calls and results folded) and ``static/agents.js`` follows the live stream
(``/api/agents/events``, the session cookie as credentials) from the last id on the page, so a
message stored while the page is open appears without a reload, and a reconnect resumes exactly
after the last message shown (``last_event_id``): nothing lost, nothing twice.
"""

from __future__ import annotations

from typing import Any

import flask

from functions.api import agents
from functions.api.app import ApiError, path_ids
from functions.api.ui import HERE, _login_redirect, _render, _session
from shared import bootstrap
from shared.agents import sse, store
from shared.agents.render import render_markdown

FOLDED = frozenset({"tool_call", "tool_result"})

bp = flask.Blueprint(
    "agents_ui", __name__, url_prefix="/ui/agents", template_folder=str(HERE / "templates")
)


def _messages(selection: store.Selection, key: str) -> list[dict[str, Any]]:
    with bootstrap.container().db.transaction() as tx:
        rows = store.page(tx, selection, key, 0, sse.PAGE)
    return [
        {
            **row,
            "content_html": render_markdown(row.get("content")),
            "folded": row["kind"] in FOLDED,
        }
        for row in rows
    ]


def _channel(title: str, selection: store.Selection, key: str, query: str) -> flask.Response:
    current = _session()
    if current is None:
        return _login_redirect()
    principal, session = current
    messages = _messages(selection, key)
    return _render(
        "agents.html",
        title=title,
        messages=messages,
        last_id=messages[-1]["id"] if messages else 0,
        stream=f"{agents.PATH}?{query}",
        principal=principal,
        csrf=session.csrf,
    )


@bp.get("")
def agents_index() -> flask.Response:
    """The workflows whose agents sent messages, newest first, and the general channel."""
    current = _session()
    if current is None:
        return _login_redirect()
    principal, session = current
    with bootstrap.container().db.transaction() as tx:
        found = store.channels(tx)
    return _render("agents_index.html", channels=found, principal=principal, csrf=session.csrf)


@bp.get("/general")
def agents_general() -> flask.Response:
    """The general channel."""
    return _channel("General channel", "general", "", "channel=general")


@bp.get("/<run_id>")
def agents_of_run(run_id: str) -> flask.Response:
    """The messages of run ``run_id``'s agents."""
    try:
        ident = path_ids({"run_id": run_id})["run_id"]
    except ApiError as exc:
        return _render("error.html", status=400, message=exc.message)
    return _channel(f"Agents of run {ident}", "run", str(ident), f"run={ident}")
