"""What every answer of the api function shares (its application is assembled in
:mod:`functions.api.main` from the JSON api, :mod:`functions.api.routes`, and the web UI,
:mod:`functions.api.ui`) — authentication, validation of
queries and bodies into the pydantic models, errors as JSON naming the field, security headers.

Errors: a query parameter that fails its model → 400 naming it; a body → 422 naming the
member; a missing or wrong token → 401 with no detail (and ``WWW-Authenticate: Bearer``), 429
with ``Retry-After`` once its client address is past the failure limit
(:mod:`functions.api.throttle`); a read token on an action → 403; the database down → 503.
Nothing here logs a header or a token.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flask
from pydantic import BaseModel, ValidationError

from functions.api.auth import Principal, Sessions, TokenRing, bearer
from functions.api.models import MAX_ID, MAX_NUMBER, NAME_PATTERN, NUMBER_PARAMS
from functions.api.throttle import Throttle, client_address
from shared import bootstrap
from shared.bootstrap import Container
from shared.errors import CodexJudgeError

log = logging.getLogger("codex_judge.api")
CONSUMER = "api"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Call:
    """What a JSON handler gets: the caller, its validated query and body, path parameters."""

    deps: Container
    principal: Principal
    query: Any
    body: Any
    path: dict[str, Any]
    idempotency_key: str | None


class ApiError(CodexJudgeError):
    """An answer other than 200 from a handler: ``status`` and the error body."""

    def __init__(self, status: int, message: str, *, field: str | None = None, **details: Any):
        super().__init__(message, field=field, **details)
        self.status = status


def json_answer(status: int, body: dict[str, Any] | BaseModel, **headers: str) -> flask.Response:
    """A JSON response (a model is serialised through itself)."""
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body)
    return flask.Response(text, status=status, mimetype="application/json", headers=headers)


def unauthorized() -> flask.Response:
    """401 with no detail (never says whether the token was missing or wrong)."""
    return json_answer(401, {"error": "Unauthorized"}, **{"WWW-Authenticate": "Bearer"})


def too_many(retry_after_s: int) -> flask.Response:
    """429 with ``Retry-After`` (seconds): too many failed sign-ins from this client address
    (:mod:`functions.api.throttle`); says nothing about the token."""
    body = {
        "error": "TooManyRequests",
        "message": f"too many failed sign-ins from this address; retry after {retry_after_s} s",
        "field": "Authorization",
    }
    return json_answer(429, body, **{"Retry-After": str(retry_after_s)})


def refused(deps: Container, request: flask.Request | None = None) -> flask.Response:
    """The answer to a missing or wrong bearer token on ``request`` (default: the current
    one): 401, counted per client address; 429 once the address is past the limit
    (:mod:`functions.api.throttle`)."""
    throttle = Throttle.from_settings(deps.settings, "bearer")
    client = client_address(request or flask.request, deps.settings.api_proxy_hops)
    with deps.db.transaction() as tx:
        wait = throttle.fail(tx, client)
    return unauthorized() if wait is None else too_many(wait)


def ring(deps: Container) -> TokenRing:
    """The accepted tokens of this process's settings."""
    return TokenRing.from_settings(deps.settings)


def sessions(deps: Container) -> Sessions:
    """The session-cookie signer of this process's settings."""
    return Sessions(ring(deps).session_key(deps.settings.api_session_secret))


def _validation_field(exc: ValidationError, prefix: str) -> tuple[str, str]:
    first = exc.errors(include_url=False)[0]
    name = ".".join(str(p) for p in first["loc"]) or prefix
    return name, f"{name}: {first['msg']}"


def parse_query(model: type[BaseModel] | None, args: Any) -> Any:
    """The query string as ``model``; an unknown or invalid parameter → 400 naming it."""
    if model is None:
        return None
    raw = {k: v for k, v in args.items(multi=False) if v != ""}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        name, text = _validation_field(exc, "query")
        raise ApiError(400, text, field=name, error="InvalidParameter") from None


def parse_body(model: type[BaseModel] | None, request: flask.Request) -> Any:
    """The JSON body as ``model`` (an empty body is ``{}``); invalid → 422 naming the member."""
    if model is None:
        return None
    raw = request.get_data(cache=True)
    if len(raw) > 64 * 1024:
        raise ApiError(413, "body is larger than 65536 bytes", field="body")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(422, "body: expected a JSON object", field="body") from None
    if not isinstance(data, dict):
        raise ApiError(422, "body: expected a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        name, text = _validation_field(exc, "body")
        raise ApiError(422, text, field=f"body.{name}", error="InvalidBody") from None


def error_answer(exc: CodexJudgeError) -> flask.Response:
    """The JSON answer of a project error (its status and body)."""
    body = exc.body()
    if isinstance(exc, ApiError) and "error" in exc.details:
        body["error"] = exc.details["error"]
    if exc.status >= 500:
        log.warning("api answered %s: %s", exc.status, exc.message)
    return json_answer(exc.status, body)


_NAME = re.compile(NAME_PATTERN)


def path_ids(raw: dict[str, str], names: tuple[str, ...] = ()) -> dict[str, Any]:
    """Path parameters as positive integers (row ids up to ``MAX_ID``; issue and pull request
    numbers up to ``MAX_NUMBER``, Postgres ``integer``), or for ``names`` as GitHub names;
    anything else → 400 naming the parameter."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name in names:
            if not _NAME.match(value):
                raise ApiError(
                    400,
                    f"{name}: expected a GitHub name ({NAME_PATTERN})",
                    field=name,
                    error="InvalidParameter",
                )
            out[name] = value
            continue
        top = MAX_NUMBER if name in NUMBER_PARAMS else MAX_ID
        if not (
            value.isascii() and value.isdigit() and 0 < len(value) <= 18 and 0 < int(value) <= top
        ):
            raise ApiError(
                400,
                f"{name}: expected a positive integer up to {top}",
                field=name,
                error="InvalidParameter",
            )
        out[name] = int(value)
    return out


Handler = Callable[[Call], BaseModel | tuple[int, BaseModel]]


def json_endpoint(
    *,
    scope: str | None,
    query: type[BaseModel] | None,
    body: type[BaseModel] | None,
    handler: Handler,
    names: tuple[str, ...] = (),
) -> Callable[..., flask.Response]:
    """A Flask view: authenticate (bearer token; ``operator`` scope for actions), validate the
    query and body, call ``handler``, answer its model as JSON."""

    def view(**raw_path: str) -> flask.Response:
        deps = bootstrap.container()
        try:
            principal = ring(deps).verify(bearer(flask.request.headers.get("Authorization")))
            if principal is None:
                return refused(deps)
            if scope == "operator" and not principal.may_act:
                raise ApiError(403, "this token may only read; actions need an operator token")
            path = path_ids(raw_path, names)
            call = Call(
                deps=deps,
                principal=principal,
                query=parse_query(query, flask.request.args),
                body=parse_body(body, flask.request),
                path=path,
                idempotency_key=flask.request.headers.get("Idempotency-Key"),
            )
            answer = handler(call)
        except CodexJudgeError as exc:
            return error_answer(exc)
        status, model = answer if isinstance(answer, tuple) else (200, answer)
        return json_answer(status, model)

    return view
