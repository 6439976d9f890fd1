"""The ArtifactStore adapters over real HTTP: S3ArtifactStore against moto's S3 server (behind a
proxy that can answer S3's 500), HttpxArgoArtifactStore against the fake Argo server. Locations
come from real recorded Argo workflows (tests/fixtures/corpus/argo)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator

import boto3
import httpx
import pytest

from shared.adapters.argo_artifacts import HttpxArgoArtifactStore
from shared.adapters.s3_artifacts import S3ArtifactStore
from shared.argo import WorkflowCompletion, parse_completion
from shared.artifacts.port import ArtifactLocation
from shared.artifacts.unpack import unpack
from shared.errors import UpstreamError
from shared.local.fakes.argo import create_app as create_argo
from shared.local.fakes.argo_artifacts import artifact_key, artifacts_state
from shared.local.fakes.base import ServedFake, fault, serve_fake
from tests.support.archives import CORPUS, argo_wrapped, changes_archive
from tests.support.s3_server import FaultingS3Proxy, moto_s3

ARGO = CORPUS / "argo"
EVENTS = (CORPUS / "codex-exec" / "success.vincent.jsonl").read_bytes()


def _completion(name: str) -> WorkflowCompletion:
    parsed = parse_completion((ARGO / name).read_bytes())
    assert isinstance(parsed, WorkflowCompletion)
    return parsed


def _content(location: ArtifactLocation) -> bytes:
    """What the test stores for an artifact: a log line naming it, Argo-wrapped for .tgz."""
    text = f"{location.name}: Error (exit code 1)\n".encode()
    return argo_wrapped("main.log", text) if (location.key or "").endswith(".tgz") else text


@pytest.fixture(scope="module")
def s3() -> Iterator[FaultingS3Proxy]:
    with moto_s3() as url:
        proxy = FaultingS3Proxy(url)
        try:
            yield proxy
        finally:
            proxy.stop()


@functools.cache
def _client(url: str) -> object:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


_buckets: set[str] = set()


def _store(s3: FaultingS3Proxy, **kwargs: object) -> S3ArtifactStore:
    options: dict[str, object] = {
        "endpoint_url": s3.url,
        "access_key_id": "test",
        "secret_access_key": "test",
        "timeout_s": 5.0,
    }
    options.update(kwargs)
    return S3ArtifactStore(**options)  # type: ignore[arg-type]


def _put(s3: FaultingS3Proxy, bucket: str, key: str, body: bytes) -> None:
    client = _client(s3.upstream)
    if bucket not in _buckets:
        client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
        _buckets.add(bucket)
    client.put_object(Bucket=bucket, Key=key, Body=body)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "recorded", ["workflow.failed.onexit-s3-keys.yaml", "workflow.succeeded.artgc-mixed-s3.yaml"]
)
def test_s3_reads_every_recorded_location_form(s3: FaultingS3Proxy, recorded: str) -> None:
    # onexit: key only, bucket from status.artifactRepositoryRef; artgc: full s3{bucket, key}
    # on some artifacts, key only on others.
    locations = ArtifactLocation.of_completion(_completion(recorded))
    assert locations
    for location in locations:
        assert location.bucket and location.key
        _put(s3, location.bucket, location.key, _content(location))
    store = _store(s3)
    for location in locations:
        got = store.fetch(location, max_bytes=1024 * 1024)
        expected = _content(location)
        assert (got.status, got.content, got.size) == ("fetched", expected, len(expected))
        assert got.sha256 == hashlib.sha256(expected).hexdigest()
        assert got.where == f"s3://{location.bucket}/{location.key}"


def test_s3_default_key_layout_and_a_configured_key_format(s3: FaultingS3Proxy) -> None:
    recorded = ArtifactLocation.of_completion(_completion("workflow.succeeded.artgc-mixed-s3.yaml"))
    logs = next(loc for loc in recorded if loc.artifact_name == "main-logs")
    # The recorded key is Argo's own layout: <workflow>/<pod>/main.log; the pod name we derive
    # from the node id and template must give the same path.
    assert logs.key == f"two-artgc-8tcvt/{logs.pod_name}/main.log"
    unkeyed = logs.model_copy(update={"key": None, "bucket": None, "artifact_name": "changes"})
    body = argo_wrapped(".codex-implementation-changes.tar.gz", changes_archive())
    _put(s3, "repo-bucket", f"two-artgc-8tcvt/{logs.pod_name}/changes.tgz", body)
    got = _store(s3, bucket="repo-bucket").fetch(unkeyed, max_bytes=1024 * 1024)
    assert (got.status, got.content) == ("fetched", body)
    assert unpack(got.content, "changes").file("metadata/manifest.json") is not None

    fmt = "{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}"
    namespaced = unkeyed.model_copy(update={"namespace": "argo"})
    _put(s3, "repo-bucket", f"argo/two-artgc-8tcvt/{logs.pod_name}/changes.tgz", b"n")
    got = _store(s3, bucket="repo-bucket", key_format=fmt).fetch(namespaced, max_bytes=64)
    assert (got.status, got.content) == ("fetched", b"n")

    no_pod = unkeyed.model_copy(update={"pod_name": None})
    assert _store(s3, bucket="repo-bucket").fetch(no_pod, max_bytes=64).status == "unlocated"
    assert _store(s3).fetch(unkeyed, max_bytes=64).status == "unlocated"


def test_s3_missing_object_and_bucket_are_values(s3: FaultingS3Proxy) -> None:
    _put(s3, "present", "other", b"x")
    store = _store(s3)
    missing = ArtifactLocation(name="a", artifact_name="a", bucket="present", key="nope.tgz")
    got = store.fetch(missing, max_bytes=64)
    assert (got.status, got.detail) == ("missing", "S3 answered NoSuchKey")
    no_bucket = missing.model_copy(update={"bucket": "never-created"})
    assert store.fetch(no_bucket, max_bytes=64).status == "missing"


def test_s3_500_then_success_is_retried(s3: FaultingS3Proxy) -> None:
    _put(s3, "flaky", "run/main.log", b"hello")
    location = ArtifactLocation(name="l", artifact_name="l", bucket="flaky", key="run/main.log")
    s3.requests.clear()
    s3.fail_next(1, status=500)
    got = _store(s3, max_attempts=3).fetch(location, max_bytes=64)
    assert (got.status, got.content) == ("fetched", b"hello")
    assert [status for _, _, status in s3.requests] == [500, 206]


def test_s3_500s_beyond_the_attempts_raise_a_transient_error(s3: FaultingS3Proxy) -> None:
    location = ArtifactLocation(name="l", artifact_name="l", bucket="flaky", key="run/main.log")
    s3.fail_next(2, status=503)
    with pytest.raises(UpstreamError, match="503"):
        _store(s3, max_attempts=2).fetch(location, max_bytes=64)


def test_s3_oversized_and_empty_objects(s3: FaultingS3Proxy) -> None:
    big = bytes(range(256)) * 20
    _put(s3, "sizes", "big.log", big)
    _put(s3, "sizes", "empty.log", b"")
    store = _store(s3)
    got = store.fetch(
        ArtifactLocation(name="b", artifact_name="b", bucket="sizes", key="big.log"),
        max_bytes=1024,
    )
    assert (got.status, got.size, got.content) == ("truncated", len(big), big[:1024])
    assert got.sha256 == hashlib.sha256(big[:1024]).hexdigest()
    got = store.fetch(
        ArtifactLocation(name="e", artifact_name="e", bucket="sizes", key="empty.log"),
        max_bytes=1024,
    )
    assert (got.status, got.size, got.content) == ("fetched", 0, b"")


@pytest.fixture
def argo() -> Iterator[ServedFake]:
    served = serve_fake(create_argo())
    try:
        yield served
    finally:
        served.stop()


def _argo_location(**overrides: object) -> ArtifactLocation:
    fields: dict[str, object] = {
        "name": "codex-events",
        "artifact_name": "codex-events",
        "node_id": "impl-7x2kq-1340600742",
        "workflow_name": "impl-7x2kq",
        "namespace": "agents",
        "workflow_uid": "0b7e6c1a-3c55-4a8e-9d55-1f6c2f1f4c7a",
    }
    fields.update(overrides)
    return ArtifactLocation.model_validate(fields)


def _seed(argo: ServedFake, objects: dict[str, bytes]) -> None:
    httpx.put(
        f"{argo.url}/_fake/state", json={"artifacts": artifacts_state(objects)}
    ).raise_for_status()


def test_argo_server_live_then_archived_path(argo: ServedFake) -> None:
    location = _argo_location()
    wrapped = argo_wrapped("events.jsonl", EVENTS)
    live = artifact_key("workflows", "agents", "impl-7x2kq", location.node_id or "", "codex-events")
    _seed(argo, {live: wrapped})
    store = HttpxArgoArtifactStore(argo.url, backoff_s=0)
    got = store.fetch(location, max_bytes=1024 * 1024)
    assert (got.status, got.source, got.content) == ("fetched", "argo-server", wrapped)
    assert got.where == (
        "/artifact-files/agents/workflows/impl-7x2kq/impl-7x2kq-1340600742/outputs/codex-events"
    )
    assert unpack(got.content, "codex-events").files[0].content == EVENTS

    archived = artifact_key(
        "archived-workflows",
        "agents",
        location.workflow_uid or "",
        location.node_id or "",
        "codex-events",
    )
    _seed(argo, {archived: wrapped})
    got = store.fetch(location, max_bytes=1024 * 1024)
    assert got.status == "fetched"
    assert got.where and "/archived-workflows/0b7e6c1a-" in got.where


def test_argo_server_missing_unlocated_oversized(argo: ServedFake) -> None:
    _seed(argo, {})
    store = HttpxArgoArtifactStore(argo.url, backoff_s=0)
    assert store.fetch(_argo_location(), max_bytes=64).status == "missing"
    assert store.fetch(_argo_location(node_id=None), max_bytes=64).status == "unlocated"
    location = _argo_location()
    big = b"z" * 5000
    _seed(
        argo,
        {
            artifact_key(
                "workflows", "agents", "impl-7x2kq", location.node_id or "", "codex-events"
            ): big
        },
    )
    got = store.fetch(location, max_bytes=1024)
    assert (got.status, got.size, len(got.content)) == ("truncated", 5000, 1024)


def test_argo_server_502_then_success_and_persistent_outage(argo: ServedFake) -> None:
    location = _argo_location()
    key = artifact_key("workflows", "agents", "impl-7x2kq", location.node_id or "", "codex-events")
    _seed(argo, {key: b"log"})
    httpx.post(
        f"{argo.url}/_fake/faults", json=fault(502, path="/artifact-files/")
    ).raise_for_status()
    store = HttpxArgoArtifactStore(argo.url, backoff_s=0, max_attempts=2)
    assert store.fetch(location, max_bytes=64).content == b"log"
    httpx.post(
        f"{argo.url}/_fake/faults", json=fault(503, path="/artifact-files/", times=2)
    ).raise_for_status()
    with pytest.raises(UpstreamError, match="503"):
        store.fetch(location, max_bytes=64)


def test_argo_server_gone_workflow_500_falls_back_to_the_archive(argo: ServedFake) -> None:
    # The Argo Server answers 500 for a workflow it no longer has; the archive still serves.
    location = _argo_location()
    archived = artifact_key(
        "archived-workflows",
        "agents",
        location.workflow_uid or "",
        location.node_id or "",
        "codex-events",
    )
    _seed(argo, {archived: b"archived log"})
    httpx.post(
        f"{argo.url}/_fake/faults", json=fault(500, path="/workflows/impl-7x2kq/", times=2)
    ).raise_for_status()
    store = HttpxArgoArtifactStore(argo.url, backoff_s=0, max_attempts=2)
    got = store.fetch(location, max_bytes=64)
    assert (got.status, got.content) == ("fetched", b"archived log")
