"""The web UI: server-rendered Jinja2 pages (autoescaped), readable without JavaScript; a small
script (``static/app.js``) only asks for confirmation before an action and prevents a double
submit. No build step.

Pages: ``/ui/login`` (a token opens a session cookie: HttpOnly, SameSite=Strict, Secure behind
HTTPS), ``/ui/runs`` (filters, keyset pages), ``/ui/runs/<id>`` (verdict and evidence, links,
the pipeline's timeline, effects, timers, actions), ``/ui/pulls/<owner>/<repo>/<n>`` (tabs:
Overview, Conversation, Checks by commit, Files, Judge), ``/ui/policies/<owner>/<repo>`` (the
effective policy, its hash and versions, the findings recorded), ``/ui/dead-letters`` (with a
replay button).
Every form that acts carries the session's CSRF token and an idempotency key made when the page
was rendered, so a double submit acts once; actions need an operator token's session and go
through :func:`functions.api.routes.perform` like the JSON api's.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import flask
from pydantic import BaseModel, ValidationError

from functions.api import reads
from functions.api.app import ApiError, Call, parse_query, path_ids, ring, sessions
from functions.api.auth import SESSION_COOKIE, SESSION_MAX_AGE_S, Principal, Session, check_csrf
from functions.api.models import IssueQuery, RunQuery
from functions.api.policies import policy_findings, policy_view
from functions.api.pulls import pull_detail
from functions.api.throttle import Throttle, client_address
from shared import bootstrap
from shared.errors import CodexJudgeError
from shared.operator.actions import CANCELLABLE, JUDGED_AGAIN_FROM
from shared.operator.dead_letters import DeadLetterQuery, list_dead_letters
from shared.operator.findings import FindingsQuery
from shared.operator.model import Action, ApproveRequest, CancelRequest, ReplayRequest, RerunRequest

HERE = Path(__file__).resolve().parent
FORMS: dict[str, type[BaseModel]] = {
    "approve": ApproveRequest,
    "rerun": RerunRequest,
    "cancel": CancelRequest,
    "replay": ReplayRequest,
}
RUN_ACTIONS = ("approve", "rerun", "cancel")
Query = TypeVar("Query", bound=BaseModel)

bp = flask.Blueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    template_folder=str(HERE / "templates"),
    static_folder=str(HERE / "static"),
    static_url_path="/static",
)


@bp.errorhandler(CodexJudgeError)
def _error_page(exc: CodexJudgeError) -> flask.Response:
    """A page's error (a bad cursor, the database down) as a page, with its status."""
    return _render("error.html", status=exc.status, message=exc.message)


def _session() -> tuple[Principal, Session] | None:
    deps = bootstrap.container()
    session = sessions(deps).read(flask.request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    principal = ring(deps).by_digest(session.digest)
    return (principal, session) if principal is not None else None


def _login_redirect() -> flask.Response:
    target = flask.request.full_path if flask.request.method == "GET" else "/ui/runs"
    return flask.redirect(flask.url_for("ui.login", next=target))  # type: ignore[return-value]


def _next_page(cursor: str | None, fragment: str = "") -> str | None:
    """The link to the next keyset page: this request's filters with ``cursor``; None on the
    last page."""
    if not cursor:
        return None
    args = {k: v for k, v in flask.request.args.items() if k != "cursor" and v}
    return f"?{urlencode({**args, 'cursor': cursor})}{fragment}"


def _query(model: type[Query]) -> tuple[Query, str | None]:
    """This request's query string as ``model`` and no error; with an invalid parameter, the
    model's defaults and the error's message (the page shows it, status 400)."""
    try:
        return parse_query(model, flask.request.args), None
    except ApiError as exc:
        return model(), exc.message


def _render(template: str, status: int = 200, **context: Any) -> flask.Response:
    html = flask.render_template(template, **context)
    return flask.Response(html, status=status, mimetype="text/html")


@bp.get("/login")
def login() -> flask.Response:
    return _render("login.html", next=_safe_next(flask.request.args.get("next")))


def _safe_next(target: str | None) -> str:
    """Only a local UI path (never another host: no open redirect)."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/runs"


@bp.post("/login")
def login_submit() -> flask.Response:
    """Open a session for a valid token; a wrong one is 401 and counted per client address,
    and an address past the limit is 429 with ``Retry-After`` before its token is looked at
    (:mod:`functions.api.throttle`)."""
    deps = bootstrap.container()
    target = _safe_next(flask.request.form.get("next"))
    throttle = Throttle.from_settings(deps.settings, "login")
    client = client_address(flask.request, deps.settings.api_proxy_hops)
    with deps.db.transaction() as tx:
        wait = throttle.blocked(tx, client)
    if wait is not None:
        page = _render("login.html", status=429, next=target, wait_s=wait)
        page.headers["Retry-After"] = str(wait)
        return page
    principal = ring(deps).verify(flask.request.form.get("token", "").strip())
    if principal is None:
        with deps.db.transaction() as tx:
            throttle.fail(tx, client)
        return _render("login.html", status=401, next=target, failed=True)
    response = flask.redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        sessions(deps).open(principal),
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="Strict",
        secure=flask.request.is_secure or flask.request.headers.get("X-Forwarded-Proto") == "https",
        path="/",
    )
    return response  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> flask.Response:
    current = _session()
    if current is None or not check_csrf(current[1], flask.request.form.get("csrf_token")):
        return _render("error.html", status=403, message="the form has expired; log in again")
    response = flask.redirect(flask.url_for("ui.login"))
    response.delete_cookie(SESSION_COOKIE, path="/", samesite="Strict", httponly=True)
    return response  # type: ignore[return-value]


def _page(template: str, query_model: type[BaseModel], loader: Any, **extra: Any) -> flask.Response:
    current = _session()
    if current is None:
        return _login_redirect()
    principal, session = current
    deps = bootstrap.container()
    query, error = _query(query_model)
    with deps.db.transaction() as tx:
        page = loader(tx, query)
    next_url = _next_page(page.next_cursor)
    return _render(
        template,
        status=400 if error else 200,
        page=page,
        query=query,
        error=error,
        next_url=next_url,
        principal=principal,
        csrf=session.csrf,
        key=uuid.uuid4().hex,
        **extra,
    )


@bp.get("/runs")
def runs() -> flask.Response:
    statuses = RunQuery.model_fields["status"].annotation
    return _page("runs.html", RunQuery, reads.list_runs, statuses=_literal_values(statuses))


@bp.get("/issues")
def issues() -> flask.Response:
    """Per-issue summaries and the stats over them."""
    current = _session()
    if current is None:
        return _login_redirect()
    principal, session = current
    query, error = _query(IssueQuery)
    with bootstrap.container().db.transaction() as tx:
        report = reads.issue_report(tx, query)
    return _render(
        "issues.html",
        status=400 if error else 200,
        report=report,
        query=query,
        error=error,
        principal=principal,
        csrf=session.csrf,
    )


@bp.get("/dead-letters")
def dead_letters() -> flask.Response:
    return _page("dead_letters.html", DeadLetterQuery, list_dead_letters)


def _literal_values(annotation: Any) -> list[str]:
    from typing import get_args

    out: list[str] = []
    for arg in get_args(annotation):
        out += [a for a in get_args(arg) if isinstance(a, str)]
    return out


PULL_TABS = (
    ("overview", "Overview"),
    ("conversation", "Conversation"),
    ("checks", "Checks"),
    ("files", "Files"),
    ("judge", "Judge"),
)


@bp.get("/pulls/<owner>/<repo>/<number>")
def pull(owner: str, repo: str, number: str) -> flask.Response:
    """A pull request with tabs (links: readable without JavaScript); Files lists the changed
    paths at the newest head with their source (the worktree snapshot, or GitHub)."""
    current = _session()
    if current is None:
        return _login_redirect()
    principal, session = current
    try:
        path = path_ids({"owner": owner, "repo": repo, "number": number}, ("owner", "repo"))
    except ApiError as exc:
        return _render("error.html", status=400, message=exc.message)
    repository = f"{path['owner']}/{path['repo']}"
    with bootstrap.container().db.transaction() as tx:
        detail = pull_detail(tx, repository, path["number"])
    if detail is None:
        return _render(
            "error.html", status=404, message=f"nothing is known of {repository}#{number}"
        )
    tab = flask.request.args.get("tab", "overview")
    if tab not in dict(PULL_TABS):
        tab = "overview"
    return _render(
        "pull.html",
        detail=detail,
        repository=repository,
        number=path["number"],
        tab=tab,
        tabs=PULL_TABS,
        principal=principal,
        csrf=session.csrf,
    )


@bp.get("/policies/<owner>/<repo>")
def policy(owner: str, repo: str) -> flask.Response:
    """A repository's effective policy with its hash, layers and pack history, and the gate
    findings recorded in its evaluations (newest first, paged; filters ``code`` and
    ``policy_hash`` as in the JSON api)."""
    current = _session()
    if current is None:
        return _login_redirect()
    principal, session = current
    query, error = _query(FindingsQuery)
    try:
        path = path_ids({"owner": owner, "repo": repo}, ("owner", "repo"))
        repository = f"{path['owner']}/{path['repo']}"
        deps = bootstrap.container()
        with deps.db.transaction() as tx:
            view = policy_view(tx, deps.settings, repository)
            findings = policy_findings(tx, deps.settings, repository, query)
    except CodexJudgeError as exc:
        return _render("error.html", status=exc.status, message=exc.message)
    next_url = _next_page(findings.next_cursor, "#findings")
    return _render(
        "policy.html",
        status=400 if error else 200,
        view=view,
        findings=findings,
        query=query,
        error=error,
        next_url=next_url,
        principal=principal,
        csrf=session.csrf,
    )


@bp.get("/runs/<run_id>")
def run(run_id: str) -> flask.Response:
    current = _session()
    if current is None:
        return _login_redirect()
    principal, session = current
    try:
        ident = path_ids({"run_id": run_id})["run_id"]
    except ApiError as exc:
        return _render("error.html", status=400, message=exc.message)
    with bootstrap.container().db.transaction() as tx:
        detail = reads.run_detail(tx, ident)
    if detail is None:
        return _render("error.html", status=404, message=f"no run with id {ident}")
    return _render(
        "run.html",
        detail=detail,
        principal=principal,
        csrf=session.csrf,
        key=uuid.uuid4().hex,
        actions=available_actions(detail.run.status),
        notice=flask.request.args.get("notice"),
    )


def available_actions(status: str) -> list[str]:
    """The run actions whose compare-and-set could succeed from ``status`` (the others would
    only be refused, so their buttons are not shown)."""
    out = [a for a in ("approve", "rerun") if status in JUDGED_AGAIN_FROM[a]]
    return [*out, "cancel"] if status in CANCELLABLE else out


def _act(action: Action, target: str, back: str) -> flask.Response:
    from functions.api.routes import perform

    current = _session()
    if current is None:
        return _login_redirect()
    principal, session = current
    form = flask.request.form
    if not check_csrf(session, form.get("csrf_token")):
        return _render("error.html", status=403, message="the form has expired; reload the page")
    if not principal.may_act:
        return _render("error.html", status=403, message="this token may only read")
    deps = bootstrap.container()
    try:
        ident = path_ids({"id": target})["id"]
        fields = {k: v for k in ("comment", "prompt") if (v := form.get(k, "").strip())}
        body = FORMS[action].model_validate(
            {k: v for k, v in fields.items() if k in FORMS[action].model_fields}
        )
        key = form.get("idempotency_key") or uuid.uuid4().hex
        call = Call(
            deps=deps,
            principal=principal,
            query=None,
            body=body,
            path={},
            idempotency_key=f"ui:{key}",
        )
        _status, result = perform(call, action, ident)
    except ValidationError as exc:
        return _render(
            "error.html", status=422, message=str(exc.errors(include_url=False)[0]["msg"])
        )
    except CodexJudgeError as exc:
        return _render("error.html", status=exc.status, message=exc.message)
    notice = f"{result.outcome}: {result.message}"
    return flask.redirect(f"{back}?{urlencode({'notice': notice})}", code=303)  # type: ignore[return-value]


@bp.post("/runs/<run_id>/<action>")
def run_action(run_id: str, action: str) -> flask.Response:
    if action not in RUN_ACTIONS:
        return _render("error.html", status=404, message=f"no action {action!r}")
    return _act(action, run_id, f"/ui/runs/{run_id}")  # type: ignore[arg-type]


@bp.post("/dead-letters/<dead_letter_id>/replay")
def replay(dead_letter_id: str) -> flask.Response:
    return _act("replay", dead_letter_id, "/ui/dead-letters")


def register(app: flask.Flask) -> None:
    """Add the UI's pages (and ``/`` → ``/ui/runs``) to ``app``; autoescaping stays on."""
    app.register_blueprint(bp)
    app.jinja_env.autoescape = True

    @app.get("/")
    def index() -> flask.Response:
        return flask.redirect("/ui/runs")  # type: ignore[return-value]

    @app.get("/ui")
    def ui_index() -> flask.Response:
        return flask.redirect("/ui/runs")  # type: ignore[return-value]
