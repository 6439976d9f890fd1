"""Property-based tests over every function's HTTP surface (issue 10): any byte string, any
headers, any JSON → never a 5xx and the function keeps answering its readiness probe; a valid
event among garbage and duplicates is processed exactly once.

Every function is served once for the module over real HTTP against one real test database
(hypothesis runs many examples per test; a database per example would not fit the CI budget).
The event types each function is offered are read from its Trigger's ``spec.filters`` in the
kustomize build, so the properties follow the subscriptions as they change. Examples are
derandomized: CI sees the same examples on every run, and a failure prints the minimal one.

Minimal failing examples found by these properties are kept as plain regression tests at the
end of the module.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from functions.github_webhook.signature import sign
from shared import bootstrap
from shared.bootstrap import Container
from shared.db import Database, bootstrap_database
from shared.local.mesh.kustomize import kustomize_build
from shared.settings import Settings
from tests.conftest import APP_ROLE, ROOT, Served
from tests.functional.github_webhook.test_github_webhook import HOOKS, SECRET, Sink
from tests.functional.run_complete.test_run_complete import KAFKA_SOURCE, PARAMS

#: Every event-consuming function folder (each is one Knative Service of the build); the api is
#: an HTTP Service with its own contract (tests/functional/test_api*.py).
FUNCTIONS = sorted(
    p.parent.name for p in (ROOT / "functions").glob("*/main.py") if p.parent.name != "api"
)

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- the served mesh -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def container(
    pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    """One database and one container for the module, installed for the served functions."""
    name = f"cj_prop_{uuid.uuid4().hex[:10]}"
    url = bootstrap_database(pg_admin_url, name, APP_ROLE, template=template_db)
    deps = bootstrap.build(
        Settings(
            database_url=url,
            data_dir=tmp_path_factory.mktemp("properties"),
            github_api_url="http://127.0.0.1:9",
            llm_base_url=None,
            github_webhook_secrets=[SecretStr(SECRET)],
            max_body_bytes=64 * 1024,
        )
    )
    bootstrap.install(deps)
    yield deps
    bootstrap.install(None)
    deps.db.close()
    admin = Database(pg_admin_url, size=1)
    with admin.connection() as con:
        con.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="module")
def urls(container: Container) -> Iterator[dict[str, str]]:
    """``{folder: url}``: every function's functions-framework app on a loopback port, and a
    recording Broker ingress as github-webhook's ``K_SINK``."""
    import functions_framework

    sink = Served(Sink().app)
    container.settings.k_sink = sink.url + "/"
    served = {
        folder: Served(
            functions_framework.create_app(
                target="handle",
                source=str(ROOT / "functions" / folder / "main.py"),
                signature_type="http",
            )
        )
        for folder in FUNCTIONS
    }
    yield {folder: s.url for folder, s in served.items()}
    for s in [*served.values(), sink]:
        s.close()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def _ready(client: httpx.Client, url: str) -> None:
    assert client.get(url + "/healthz").status_code == 200


# --- what each function subscribes to ----------------------------------------------------


def _alternatives(node: dict[str, Any]) -> list[dict[str, str]]:
    """The attribute sets that satisfy one Knative filter expression (a concrete value for a
    ``prefix``/``suffix``)."""
    if "exact" in node:
        return [dict(node["exact"])]
    if "prefix" in node:
        return [{k: v + "opened" for k, v in node["prefix"].items()}]
    if "suffix" in node:
        return [{k: "/apis/v1/namespaces/codex-judge" + v for k, v in node["suffix"].items()}]
    if "any" in node:
        return [alt for child in node["any"] for alt in _alternatives(child)]
    if "all" in node:
        return _all(node["all"])
    raise AssertionError(f"unknown filter {node}")


def _all(nodes: list[dict[str, Any]]) -> list[dict[str, str]]:
    combos: list[dict[str, str]] = [{}]
    for node in nodes:
        combos = [{**c, **alt} for c in combos for alt in _alternatives(node)]
    return combos


def _subscriptions() -> dict[str, list[dict[str, str]]]:
    """``{folder: [attributes]}`` from each Trigger; notify (a plain HTTP endpoint) and the
    dead-letter sink (a KafkaSource's sink) have no Trigger and get what they are sent."""
    table: dict[str, list[dict[str, str]]] = {
        "notify": [{"type": "io.codexjudge.run.notify.v1"}],
        "dead_letter": [{"type": "io.codexjudge.run.completed.v1"}],
    }
    for obj in kustomize_build(ROOT):
        if obj.get("kind") == "Trigger":
            folder = obj["spec"]["subscriber"]["ref"]["name"].replace("-", "_")
            table[folder] = _all(obj["spec"].get("filters") or [])
    return table


SUBSCRIPTIONS = _subscriptions()

# --- strategies ------------------------------------------------------------------------------

_TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VCHAR = [chr(c) for c in [*range(0x21, 0x7F), *range(0x80, 0x100)]]

#: A header value HTTP/1.1 can carry (visible bytes and obs-text, inner blanks), as bytes.
header_values = st.builds(
    lambda parts: " ".join(parts).encode("latin-1"),
    st.lists(st.text(alphabet=_VCHAR, min_size=1, max_size=12), max_size=3),
)
header_names = st.text(alphabet=_TOKEN, min_size=1, max_size=16)

content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            b"application/json",
            b"application/cloudevents+json",
            b"application/cloudevents+json; charset=utf-8",
            b"application/cloudevents-batch+json",
            b"application/x-www-form-urlencoded",
            b"application/yaml",
            b"text/plain; charset=latin-1",
            b"multipart/form-data; boundary=x",
        ]
    ),
    header_values,
)

#: Member names the functions read, so generated documents reach past the first check.
KEYS = [
    "run_id", "workflow_uid", "repository", "pr_number", "issue_number", "head_sha", "attempt",
    "status", "phase", "decision", "summary", "number", "action", "pull_request", "check_run",
    "check_suite", "kind", "metadata", "uid", "name", "namespace", "labels", "annotations",
    "spec", "arguments", "parameters", "value", "finishedAt", "message", "headers", "body",
    "body_raw_base64", "deliveryId", "event", "payload", "sender", "full_name", "id", "key",
    "timer", "owner", "state", "sha", "conclusion", "reason", "specversion", "source", "type",
    "data", "data_base64", "time", "subject",
]  # fmt: skip

integers = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1]),
    st.integers(min_value=-(2**200), max_value=2**200),
)
texts = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=20),  # lone surrogates included
    st.sampled_from(["", "\x00", "a\x00b", "acme/widgets", "Succeeded", "pass", "0" * 40]),
)
json_values = st.recursive(
    st.none() | st.booleans() | integers | st.floats() | texts,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | texts, inner, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def json_texts(draw: st.DrawFn) -> bytes:
    """A JSON text (bytes) of any value: escaped or raw UTF-8 (raw lone surrogates are not
    UTF-8: such a text is not JSON, which a function must also refuse without a 5xx), now and
    then nested inside hundreds or thousands of arrays or objects."""
    value = draw(json_values)
    ascii_only = draw(st.booleans())
    text = json.dumps(value, ensure_ascii=ascii_only)
    depth = draw(st.sampled_from([0, 0, 0, 0, 62, 63, 64, 300, 3000]))
    if depth:
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"data":', "}")]))
        text = opener * depth + text + closer * depth
    return text.encode("utf-8", "surrogatepass")


def structured(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Structured-mode CloudEvent bodies whose attributes are any JSON values."""
    members = st.fixed_dictionaries(
        {},
        optional={
            name: values
            for name in ("specversion", "id", "source", "type", "time", "data", "data_base64")
        },
    )
    valid = st.fixed_dictionaries(
        {
            "specversion": st.just("1.0"),
            "id": st.text(min_size=1, max_size=8),
            "source": st.just("/p"),
            "type": st.just("t"),
        },
        optional={"data": values, "datacontenttype": texts, "time": texts, "ext": values},
    )
    return (members | valid).map(lambda d: json.dumps(d).encode("utf-8", "surrogatepass"))


bodies = st.one_of(
    st.binary(max_size=512),
    json_texts(),
    structured(json_values),
    st.sampled_from([b"", b"{", b"[]", b"null", b"\xff\xfe", b"payload=%7B%7D", b"- a\n- *b\n"]),
)


@st.composite
def ce_headers(draw: st.DrawFn) -> dict[str, bytes]:
    """Binary-mode CloudEvent headers, each present or not, with any value; extensions with
    any name; any content type."""
    headers: dict[str, bytes] = {}
    for name, usual in [
        ("ce-specversion", b"1.0"),
        ("ce-id", None),
        ("ce-source", b"/p"),
        ("ce-type", None),
        ("ce-time", b"2025-01-01T00:00:00Z"),
        ("ce-subject", None),
    ]:
        choice = draw(st.sampled_from(["absent", "usual", "any"]))
        if choice == "usual":
            headers[name] = usual or draw(st.text(alphabet=_TOKEN, min_size=1)).encode()
        elif choice == "any":
            headers[name] = draw(header_values)
    for name in draw(st.lists(header_names, max_size=3)):
        headers[draw(st.sampled_from(["ce-", "x-github-", ""])) + name] = draw(header_values)
    content_type = draw(content_types)
    if content_type is not None:
        headers["content-type"] = content_type
    return headers


# --- (1) any bytes, any headers ----------------------------------------------------------


@pytest.mark.parametrize("folder", FUNCTIONS)
@PROPERTY
@given(
    method=st.sampled_from(["POST", "POST", "POST", "PUT", "DELETE"]),
    headers=ce_headers(),
    body=bodies,
)
def test_any_bytes_with_any_headers_is_never_a_5xx(
    urls: dict[str, str],
    client: httpx.Client,
    folder: str,
    method: str,
    headers: dict[str, bytes],
    body: bytes,
) -> None:
    url = urls[folder]
    resp = client.request(method, url, headers=headers, content=body)
    assert resp.status_code < 500, resp.text
    _ready(client, url)


# --- (2) any JSON as the data of an event the function subscribes to --------------------

_ids = itertools.count()


def _binary_event(attributes: dict[str, str], data: bytes) -> dict[str, Any]:
    headers = {"ce-specversion": "1.0", "ce-id": f"prop-{next(_ids)}", "ce-source": "/p"}
    headers.update({f"ce-{k}": v for k, v in attributes.items()})
    headers["content-type"] = "application/json"
    return {"headers": {k: v.encode() for k, v in headers.items()}, "content": data}


@pytest.mark.parametrize("folder", FUNCTIONS)
@PROPERTY
@given(data=st.data(), body=json_texts())
def test_any_json_as_the_data_of_a_subscribed_event_is_never_a_5xx(
    urls: dict[str, str], client: httpx.Client, folder: str, data: st.DataObject, body: bytes
) -> None:
    attributes = data.draw(st.sampled_from(SUBSCRIPTIONS[folder]), label="attributes")
    if folder == "dead_letter":
        attributes = {
            **attributes,
            "knativeerrordest": data.draw(st.sampled_from(["http://judge.ns.svc", "::", ""])),
            "knativeerrorcode": data.draw(st.sampled_from(["422", "5000", "x", "٣٣٣"])),
            "knativeerrordata": base64.b64encode(body).decode(),
        }
    url = urls[folder]
    resp = client.post(url, **_binary_event(attributes, body))
    assert resp.status_code < 500, resp.text
    if folder == "notify":  # its plain-POST path reads the same documents
        resp = client.post(url, content=body, headers={"content-type": "application/json"})
        assert resp.status_code < 500, resp.text
    _ready(client, url)


# --- (2b) a recorded event with one member replaced ---------------------------------------

#: Recorded GitHub payloads (octokit's examples), by the CloudEvent type github-webhook gives them.
RECORDED_HOOKS = {
    "com.github." + ".".join(p.name.split(".")[:2]): json.loads(p.read_bytes())
    for p in sorted(HOOKS.glob("*.octokit.json"))
}
#: Who is sent what: each recorded event to the functions whose Trigger admits its type.
RECORDED_FOR = {
    "ci_status": sorted(t for t in RECORDED_HOOKS if t.split(".")[2] != "pull_request_review"),
    "review_gate": sorted(RECORDED_HOOKS),
    "github_webhook": sorted(RECORDED_HOOKS),
    "run_complete": ["dev.knative.kafka.event"],
}


def _paths(doc: Any, prefix: tuple[Any, ...] = (), depth: int = 3) -> list[tuple[Any, ...]]:
    """The member paths of ``doc`` down to ``depth`` levels (first list item only)."""
    if depth == 0:
        return []
    if isinstance(doc, dict):
        items: list[tuple[Any, Any]] = list(doc.items())
    elif isinstance(doc, list) and doc:
        items = [(0, doc[0])]
    else:
        return []
    return [
        path
        for key, value in items
        for path in [(*prefix, key), *_paths(value, (*prefix, key), depth - 1)]
    ]


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> bytes:
    """``doc`` with one member (at most three levels down) replaced by any JSON value, or
    removed."""
    doc = json.loads(json.dumps(doc))
    path = draw(st.sampled_from(_paths(doc)))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.integers(0, 4)) == 0:
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("folder", sorted(RECORDED_FOR))
@PROPERTY
@given(data=st.data())
def test_a_recorded_event_with_one_member_replaced_is_never_a_5xx(
    urls: dict[str, str], client: httpx.Client, folder: str, data: st.DataObject
) -> None:
    event_type = data.draw(st.sampled_from(RECORDED_FOR[folder]), label="type")
    url = urls[folder]
    if folder == "run_complete":
        body = data.draw(mutated(json.loads(PARAMS.read_bytes())), label="record")
        resp = client.post(url, **_kafka(next(_offsets), body))
    elif folder == "github_webhook":  # a signed delivery, GitHub's own path
        body = data.draw(mutated(RECORDED_HOOKS[event_type]), label="payload")
        delivery = f"prop-{next(_ids)}"
        resp = client.post(
            url, headers=_signed(body, event_type.split(".")[2], delivery), content=body
        )
    else:
        body = data.draw(mutated(RECORDED_HOOKS[event_type]), label="payload")
        resp = client.post(url, **_binary_event({"type": event_type}, body))
    assert resp.status_code < 500, resp.text
    _ready(client, url)


def _signed(body: bytes, event: str, delivery: str) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/json",
    }


# --- (3) a valid completion among garbage and duplicates: exactly one run -----------------

_offsets = itertools.count(1_000_000)


def _kafka(offset: int, body: bytes) -> dict[str, Any]:
    """A KafkaSource delivery of one record, as run-complete's Trigger passes it on."""
    return {
        "headers": {
            "ce-specversion": "1.0",
            "ce-id": f"partition:0/offset:{offset}",
            "ce-source": KAFKA_SOURCE,
            "ce-type": "dev.knative.kafka.event",
            "ce-subject": f"partition:0#{offset}",
        },
        "content": body,
    }


def _completion(uid: str) -> bytes:
    doc = json.loads(PARAMS.read_text())
    doc["uid"] = uid
    doc["metadata"] = {**doc["metadata"], "uid": uid}
    return json.dumps(doc).encode()


garbage = st.one_of(
    st.binary(max_size=256),
    json_texts(),
    # a completion record damaged in one member
    st.tuples(st.sampled_from(["metadata", "status", "uid", "arguments", "kind"]), json_values),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("garbage"), garbage),
        st.just(("duplicate", None)),  # the same record, same offset (a redelivery)
        st.just(("republished", None)),  # the same record at a new offset
        st.just(("burst", None)),  # three redeliveries at once
    ),
    min_size=1,
    max_size=8,
)


@PROPERTY
@given(before=steps, after=steps)
def test_a_completion_among_garbage_and_duplicates_is_one_run(
    urls: dict[str, str],
    client: httpx.Client,
    container: Container,
    before: list[tuple[str, Any]],
    after: list[tuple[str, Any]],
) -> None:
    url = urls["run_complete"]
    uid = f"uid-prop-{uuid.uuid4().hex[:12]}"
    record = _completion(uid)
    valid_offset = next(_offsets)
    valid = False

    def post(offset: int, body: bytes) -> int:
        return client.post(url, **_kafka(offset, body)).status_code

    def step(kind: str, arg: Any) -> list[int]:
        if kind == "garbage":
            if isinstance(arg, tuple):
                doc = json.loads(record)
                doc[arg[0]] = arg[1]
                body = json.dumps(doc).encode("utf-8", "surrogatepass")
            else:
                body = arg
            return [post(next(_offsets), body)]
        if not valid:
            return []  # redeliveries only follow the first delivery
        if kind == "duplicate":
            return [post(valid_offset, record)]
        if kind == "republished":
            return [post(next(_offsets), record)]
        with ThreadPoolExecutor(3) as pool:
            return list(pool.map(lambda _: post(valid_offset, record), range(3)))

    statuses = [s for kind, arg in before for s in step(kind, arg)]
    first = client.post(url, **_kafka(valid_offset, record))
    assert first.status_code == 200, first.text
    valid = True
    statuses += [s for kind, arg in after for s in step(kind, arg)]
    # 409: a concurrent copy of a delivery still in progress (Knative retries it)
    assert all(s < 500 for s in statuses), statuses
    with container.db.transaction() as tx:
        runs = tx.all("SELECT id FROM codex_judge.runs WHERE workflow_uid = :uid", uid=uid)
    assert len(runs) == 1
    _ready(client, url)


# --- regressions: the minimal examples the properties found ----------------------------------


@pytest.mark.parametrize("folder", FUNCTIONS)
def test_a_structured_content_type_with_binary_headers_is_read_as_structured(
    urls: dict[str, str], client: httpx.Client, folder: str
) -> None:
    headers = {"ce-specversion": "1.0", "ce-id": "0", "ce-source": "/p", "ce-type": "0"}
    headers["content-type"] = "application/cloudevents+json"
    resp = client.post(urls[folder], headers=headers, content=b"")
    assert resp.status_code == 400, resp.text
    assert resp.json()["field"] == "body"
    _ready(client, urls[folder])


@pytest.mark.parametrize(
    ("folder", "event_type", "data", "field"),
    [
        ("ci_status", "com.github.check_run.opened", {"repository": True}, "repository"),
        ("review_gate", "com.github.pull_request_review.opened", {"repository": 1}, "repository"),
        (
            "review_gate",
            "com.github.pull_request_review_thread.resolved",
            {**RECORDED_HOOKS["com.github.pull_request_review_thread.resolved"], "pull_request": 1},
            "pull_request.number",
        ),
    ],
)
def test_a_github_event_of_the_wrong_shape_is_422_naming_the_member(
    urls: dict[str, str],
    client: httpx.Client,
    container: Container,
    folder: str,
    event_type: str,
    data: Any,
    field: str,
) -> None:
    request = _binary_event({"type": event_type}, json.dumps(data).encode())
    resp = client.post(urls[folder], **request)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field
    with container.db.transaction() as tx:
        letter = tx.one(
            "SELECT error_code FROM runtime.dead_letters WHERE event_id = :id",
            id=request["headers"]["ce-id"].decode(),
        )
    assert letter is not None and letter["error_code"] == 422


def test_a_completion_whose_uid_is_not_latin_1_is_replied_with_a_percent_encoded_subject(
    urls: dict[str, str], client: httpx.Client, container: Container
) -> None:
    uid = "uid-\u00e4\U000f7e44"
    resp = client.post(urls["run_complete"], **_kafka(next(_offsets), _completion(uid)))
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-subject"] == "uid-%C3%A4%F3%B7%B9%84"
    with container.db.transaction() as tx:
        assert tx.all("SELECT 1 FROM codex_judge.runs WHERE workflow_uid = :uid", uid=uid)
    # the reply read back, as the next subscriber reads it, has the uid as the subject
    echo = client.post(
        urls["dead_letter"],
        headers={**dict(resp.headers), "ce-id": "echo-1"},
        content=resp.content,
    )
    assert echo.status_code == 202, echo.text
    with container.db.transaction() as tx:
        row = tx.one("SELECT attributes FROM runtime.dead_letters WHERE event_id = 'echo-1'")
    assert row is not None and row["attributes"]["subject"] == uid
