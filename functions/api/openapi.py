"""The OpenAPI 3.1 document of the api, generated from the route table and the pydantic models
(the models are the single source of every schema: queries, bodies, answers).

Each :class:`Operation` names its method, path, query model, body model, answer model and
scope; :func:`document` turns the table into ``/openapi.json``. OpenAPI 3.1 schemas are JSON
Schema 2020-12, which is what pydantic generates, so the models' schemas are used as they are,
referenced from ``components.schemas``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from functions.api.models import MAX_ID, MAX_NUMBER, NAME_PATTERN, NUMBER_PARAMS, Error

REF = "#/components/schemas/{model}"
VERSION = "0.1.0"


@dataclass(frozen=True)
class Operation:
    """One endpoint.

    Attributes:
        method: ``get`` or ``post``.
        path: OpenAPI path template, e.g. ``/api/runs/{run_id}``.
        operation_id: unique camelCase name.
        summary: one line for people.
        answer: the 200 answer's model.
        query: the query-parameters model (every field one parameter), or None.
        body: the JSON body's model (optional body: every field has a default), or None.
        path_params: name → description (positive integers).
        path_names: name → description (GitHub owner/repository names).
        scope: None (public), ``read`` or ``operator``.
        errors: the error statuses it may answer besides 401/429/503.
        results: those of ``errors`` answered with the ``answer`` model, not an error body
            (an action's refusal or unknown target is its recorded result).
    """

    method: str
    path: str
    operation_id: str
    summary: str
    answer: type[BaseModel]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    path_names: dict[str, str] = field(default_factory=dict)
    scope: str | None = "read"
    errors: tuple[int, ...] = ()
    results: tuple[int, ...] = ()


_ERROR_TEXT = {
    400: "a query or path parameter is invalid (the body names it in `field`)",
    403: "the token may only read",
    404: "no such resource",
    409: "refused by the target's state (the message says which)",
    413: "the body is larger than 65536 bytes",
    422: "the body is invalid (`field` names the member)",
}


def document(operations: list[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``operations``."""
    models: list[tuple[type[BaseModel], Any]] = [(Error, "serialization")]
    for op in operations:
        models.append((op.answer, "serialization"))
        if op.body is not None:
            models.append((op.body, "validation"))
    _, defs = models_json_schema(models, ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "codex-judge api",
            "version": VERSION,
            "description": "Runs, their evidence and timelines, dead letters, and operator"
            " actions. Bearer tokens (read or operator scope); /healthz and /openapi.json"
            " are public.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _operation(op: Operation) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": text,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_NUMBER if name in NUMBER_PARAMS else MAX_ID,
            },
        }
        for name, text in op.path_params.items()
    ]
    params[:0] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": text,
            "schema": {"type": "string", "pattern": NAME_PATTERN},
        }
        for name, text in op.path_names.items()
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
            }
            if description:
                param["description"] = description
            params.append(param)
    responses: dict[str, Any] = {"200": {"description": "OK", "content": _json(op.answer)}}
    statuses = [*op.errors, *([401, 429, 503] if op.scope else [])]
    if op.query is not None or op.path_params or op.path_names:
        statuses.append(400)
    if op.body is not None:
        statuses.append(413)
    for status in sorted(set(statuses)):
        text = _ERROR_TEXT.get(status, "")
        if status == 401:
            responses["401"] = {"description": "missing or wrong token (no detail)"}
        elif status == 429:
            responses["429"] = {
                "description": "too many wrong tokens from this client address; retry later",
                "headers": {
                    "Retry-After": {
                        "description": "seconds until the window ends",
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    }
                },
                "content": _json(Error),
            }
        elif status == 503:
            responses["503"] = {
                "description": "the database is unavailable; retry",
                "content": _json(Error),
            }
        else:
            model = op.answer if status in op.results else Error
            responses[str(status)] = {"description": text, "content": _json(model)}
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "parameters": params,
        "responses": responses,
    }
    if op.scope is None:
        out["security"] = []
    else:
        out["security"] = [{"bearer": []}]
        out["x-scope"] = op.scope
    if op.body is not None:
        out["requestBody"] = {"required": False, "content": _json(op.body)}
        out["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "one action per key; a duplicate is answered with the first result",
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    return out
