"""Agent messages as Server-Sent Events, with exact resume (issue 15; the WHATWG HTML standard,
"Server-sent events").

``GET …/agents/events?run=<id>`` | ``?workflow_uid=<uid>`` | ``?channel=general``: the history
after ``Last-Event-ID`` (the header a browser's ``EventSource`` sends when it reconnects, or the
``last_event_id`` query parameter for a first connection that resumes), then live messages as
they are stored. Each event is::

    id: <row id>
    event: agent-message
    data: <the row as one line of JSON>

The cursor is the row id, never a timestamp: rows that share a timestamp are all sent, and the
store makes ids visible in commit order (:mod:`shared.agents.store`), so resuming after an id
neither skips nor repeats a row. Live updates wait on ``LISTEN agent_messages`` (the table's
trigger notifies every insert), not on a polling loop; ``: keep-alive`` comments go out every
``keepalive_s`` seconds while nothing happens.

Bounds per connection: at most :data:`PAGE` rows per read, ``max_s`` seconds per response (the
client reconnects with ``Last-Event-ID``; ``retry:`` tells it to wait :data:`RETRY_MS`), and at
most ``max_streams`` open streams per process (one Postgres connection each): one more is
answered 503 with ``Retry-After``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.agents import store
from shared.agents.render import render_markdown
from shared.db import Database
from shared.db.listen import Listener
from shared.errors import InvalidParameterError

PAGE = 500
RETRY_MS = 2000
CHANNEL = "agent_messages"
MAX_UID_CHARS = 128


@dataclass(frozen=True)
class Query:
    """What one SSE request selects, and where it resumes."""

    selection: store.Selection
    key: str
    after: int


def parse_query(args: Any, last_event_id: str | None) -> Query:
    """The :class:`Query` of a request's query parameters and ``Last-Event-ID`` header.

    Raises:
        InvalidParameterError: not exactly one of ``run``, ``workflow_uid``, ``channel=general``;
            ``run`` not a positive integer; ``workflow_uid`` empty or longer than 128
            characters; ``channel`` other than ``general``; the resume id not a non-negative
            integer. The message names the parameter.
    """
    given = [name for name in ("run", "workflow_uid", "channel") if args.get(name)]
    if len(given) != 1:
        raise InvalidParameterError(
            "give exactly one of run, workflow_uid or channel=general", field="run"
        )
    name = given[0]
    value = str(args.get(name))
    if name == "run" and not (value.isdigit() and int(value) > 0):
        raise InvalidParameterError(f"run: {value!r} is not a positive integer", field="run")
    if name == "workflow_uid" and len(value) > MAX_UID_CHARS:
        raise InvalidParameterError(
            f"workflow_uid: longer than {MAX_UID_CHARS} characters", field="workflow_uid"
        )
    if name == "channel" and value != "general":
        raise InvalidParameterError(f"channel: {value!r} is not 'general'", field="channel")
    resume = last_event_id if last_event_id is not None else args.get("last_event_id")
    field = "Last-Event-ID" if last_event_id is not None else "last_event_id"
    after = 0
    if resume not in (None, ""):
        text = str(resume).strip()
        if not text.isdigit():
            raise InvalidParameterError(f"{field}: {text!r} is not a row id", field=field)
        after = int(text)
    selection: store.Selection = "general" if name == "channel" else name  # type: ignore[assignment]
    return Query(selection, value, after)


def format_event(row: dict[str, Any]) -> str:
    """One SSE event for a stored row (``id:``, ``event:``, one ``data:`` line); the data holds
    the row and ``content_html``, its content rendered safely (:mod:`shared.agents.render`)."""
    body = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in row.items()
        if k != "payload"
    }
    body["content_html"] = render_markdown(row.get("content"))
    body["payload"] = row.get("payload")
    data = json.dumps(body, default=str, separators=(",", ":"))
    return f"id: {row['id']}\nevent: agent-message\ndata: {data}\n\n"


class Streams:
    """The SSE streams of one process: a bound on how many are open at once."""

    def __init__(self, db: Database, *, max_streams: int, max_s: float, keepalive_s: float):
        self.db = db
        self.max_s = max_s
        self.keepalive_s = keepalive_s
        self._slots = threading.BoundedSemaphore(max_streams)

    def try_open(self) -> bool:
        """Take a slot; False when ``max_streams`` streams are open. The caller releases it
        with :meth:`release` when the response is closed (ended, or the client went away)."""
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        """Give back a slot taken by :meth:`try_open`."""
        self._slots.release()

    def listen(self) -> Listener:
        """``LISTEN agent_messages`` on a connection of its own, before the history is read:
        a row committed in between wakes the first wait.

        Raises:
            TransientError: the database is unreachable.
        """
        return Listener(self.db, CHANNEL)

    def events(self, query: Query, listener: Listener) -> Iterator[str]:
        """The response body of one stream; closes ``listener`` when it ends.

        Raises:
            TransientError: the database became unreachable.
        """
        with listener:
            yield f"retry: {RETRY_MS}\n\n"
            after = query.after
            deadline = time.monotonic() + self.max_s
            while True:
                with self.db.transaction() as tx:
                    rows = store.page(tx, query.selection, query.key, after, PAGE)
                for row in rows:
                    yield format_event(row)
                    after = int(row["id"])
                if len(rows) == PAGE:
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                if not listener.wait(min(self.keepalive_s, left)):
                    yield ": keep-alive\n\n"


def response(streams: Streams, request: Any) -> Any:
    """The Flask response of ``GET …/agents/events`` for ``request``.

    Raises:
        InvalidParameterError: see :func:`parse_query` (400, naming the parameter).
    """
    import flask

    query = parse_query(request.args, request.headers.get("Last-Event-ID"))
    if not streams.try_open():
        return flask.Response(
            json.dumps({"error": "too many agent-message streams open; retry"}),
            status=503,
            headers={"Retry-After": "5"},
            mimetype="application/json",
        )
    try:
        listener = streams.listen()
    except BaseException:
        streams.release()
        raise
    out = flask.Response(
        flask.stream_with_context(streams.events(query, listener)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    out.call_on_close(listener.close)  # also when the body never started
    out.call_on_close(streams.release)
    return out
