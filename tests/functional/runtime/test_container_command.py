"""The container's command serves every function from the installed wheel (issue 8).

What the image does, without a Docker engine: the wheel is built from the files the Docker build
context holds, installed non-editable into a fresh virtualenv, and each Knative
Service of the kustomize build is started as its manifest declares it (container command and
env, through :mod:`shared.local.mesh.cluster`), ``codex-judge serve`` from the fresh venv's ``bin``
with ``FUNCTION_SOURCE`` relative to the installed package root, from a working directory
outside the checkout. Each answers a real binary-mode CloudEvent over HTTP, and a malformed one
with a 4xx naming the field.

The fresh virtualenv borrows the dependencies of the running one through a ``.pth`` line (a
plain path entry: the editable install's finder in that directory is never activated), so
nothing is downloaded and ``shared`` can only come from the wheel.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from shared.db import Database, bootstrap_database
from shared.db.migrate import discover
from shared.local.fakes.base import serve_fake
from shared.local.mesh.cluster import FunctionProcess, LocalCluster, function_processes
from shared.local.mesh.kustomize import kustomize_build
from shared.local.mesh.processes import free_port
from tests.conftest import APP_ROLE
from tests.functional.github_webhook.test_github_webhook import SECRET as RECORDED_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
# The Docker build context (.dockerignore): what the wheel is built from.
CONTEXT = ("pyproject.toml", "README.md", "shared", "functions")
START_TIMEOUT_S = 90.0
SECRETS = "codex-judge-secrets"  # the Secret every Service mounts (knative/base)
TIMERS_DUE = "io.codexjudge.timers.due.v1"  # the scheduler's wake-up of a timer owner
OFFLINE = "http://127.0.0.1:9"  # nothing listens there: a call fails fast, on this machine
# The upstream URLs the manifests' ConfigMap sets (test_no_process_is_pointed_off_the_machine
# fails when it sets another).
OFFLINE_UPSTREAMS = (
    "CODEX_JUDGE_GITHUB_API_URL",
    "CODEX_JUDGE_ARGO_SERVER_URL",
    "CODEX_JUDGE_NATS_URL",  # the ingester Deployment's
)
# Knative Service name → function folder (DESIGN §13: kebab-case names, snake_case folders).
FUNCTIONS = {
    path.parent.name.replace("_", "-"): path.parent.name
    for path in sorted((ROOT / "functions").glob("*/main.py"))
}


@dataclass
class FreshVenv:
    """A virtualenv holding only the wheel, run from a directory outside the checkout."""

    root: Path
    site_packages: Path
    workdir: Path

    def python(self, code: str) -> str:
        out = subprocess.run(
            [str(self.root / "bin" / "python"), "-c", code],
            cwd=self.workdir,
            env=_base_env(self.workdir),
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()


def _base_env(workdir: Path) -> dict[str, str]:
    """The image's own environment (Dockerfile ENV), with /tmp replaced by ``workdir``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "CODEX_JUDGE_DATA_DIR": str(workdir / "codex-judge"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _run(*args: str | Path, cwd: Path) -> None:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    """Build the wheel, install it with ``--no-deps`` into a new venv, borrow the dependencies."""
    base = tmp_path_factory.mktemp("container")
    context = base / "context"
    context.mkdir()
    for name in CONTEXT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, context / name, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]")
            )
        else:
            shutil.copy2(source, context / name)
    wheels = base / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, context, cwd=base)
    (wheel,) = wheels.glob("codex_judge-*.whl")

    venv = base / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    python = venv / "bin" / "python"
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
        wheel, cwd=base,
    )  # fmt: skip
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site_packages / "_borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n")
    workdir = base / "work"
    workdir.mkdir()
    return FreshVenv(root=venv, site_packages=site_packages, workdir=workdir)


def test_the_installed_wheel_not_the_checkout_is_what_runs(fresh_venv: FreshVenv) -> None:
    paths = json.loads(
        fresh_venv.python(
            "import json, shared, functions, functions.judge.main as m;"
            " print(json.dumps([shared.__file__, functions.__file__, m.__file__]))"
        )
    )
    for path in paths:
        resolved = Path(path).resolve()
        assert resolved.is_relative_to(fresh_venv.site_packages.resolve()), path
        assert not resolved.is_relative_to(ROOT), path


@pytest.fixture(scope="module")
def container_database(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """One migrated database shared by the function processes of this module, owned by and
    connecting as the non-superuser application role, as CNPG bootstraps it."""
    name = f"cj_container_{uuid.uuid4().hex[:10]}"
    yield bootstrap_database(pg_admin_url, name, APP_ROLE, template=template_db)
    _drop(pg_admin_url, name)


def _drop(admin_url: str, name: str) -> None:
    admin = Database(admin_url, size=1)
    with admin.connection() as con:
        con.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_the_migration_jobs_command_migrates_a_fresh_database_as_its_owner(
    fresh_venv: FreshVenv, pg_admin_url: str
) -> None:
    """The Job ``codex-judge-migrate`` of the build, its command and env from the installed
    wheel, against a database bootstrapped as CNPG does (extension by the superuser)."""
    job = next(
        o
        for o in kustomize_build(ROOT, "production")
        if o["kind"] == "Job" and o["metadata"]["name"] == "codex-judge-migrate"
    )
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = [*container["command"], *container.get("args", [])]
    declared = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    name = f"cj_migrate_{uuid.uuid4().hex[:10]}"
    url = bootstrap_database(pg_admin_url, name, APP_ROLE)
    try:
        env = {
            **_base_env(fresh_venv.workdir),
            **declared,
            # The CNPG app Secret's `uri`; its TLS settings (verify-full, the mounted CA) do not
            # apply to the local Unix socket, as in libpq.
            "DATABASE_URL": url,
            "CODEX_JUDGE_DATA_DIR": str(fresh_venv.workdir / "codex-judge"),
        }
        done = subprocess.run(
            [str(fresh_venv.root / "bin" / command[0]), *command[1:]],
            cwd=fresh_venv.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        applied = json.loads(done.stdout)["applied"]
        assert applied == [m.version for m in discover()]
        db = Database(url, size=1)
        with db.connection() as con:
            (owner_is_superuser,) = con.run(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            )[0]
        db.close()
        assert owner_is_superuser is False
    finally:
        _drop(pg_admin_url, name)


@dataclass
class Served:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _wait_ready(served: Served, deadline: float) -> None:
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"{served.name} exited {served.process.returncode}:\n{served.log_tail()}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(served.url, timeout=2)  # any HTTP answer: the server is up
            return
        time.sleep(0.2)
    pytest.fail(f"{served.name} not ready after {START_TIMEOUT_S}s:\n{served.log_tail()}")


class RecordingSink:
    """The Broker's ingress stand-in for ``K_SINK``: records what functions publish, answers 202."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.served = serve_fake(self._app)
        self.url = f"{self.served.url}/"

    def _app(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        self.received.append({k.lower(): v for k, v in request.headers.items()})
        return Response(status=202)(environ, start_response)


@pytest.fixture(scope="module")
def sink() -> Iterator[RecordingSink]:
    recording = RecordingSink()
    yield recording
    recording.served.stop()


@pytest.fixture(scope="module")
def processes(
    fresh_venv: FreshVenv, container_database: str, sink: RecordingSink
) -> dict[str, FunctionProcess]:
    """Each Service of the kustomize build as the process its manifest declares."""
    local = LocalCluster(
        database_url=container_database,
        broker_url=sink.url,
        data_dir=fresh_venv.workdir / "cluster",
        # The one Secret every Service mounts: the secret the recorded deliveries were signed with.
        secrets={SECRETS: {"CODEX_JUDGE_GITHUB_WEBHOOK_SECRETS": RECORDED_WEBHOOK_SECRET}},
        # Nothing may leave the machine: the ConfigMap's upstreams point at a closed port.
        upstreams={name: OFFLINE for name in OFFLINE_UPSTREAMS},
        inherited=_base_env(fresh_venv.workdir),
    )
    return function_processes(kustomize_build(ROOT), local)


def test_the_ingester_deployment_runs_a_command_the_installed_package_has(
    processes: dict[str, FunctionProcess],
) -> None:
    ingest = processes["agent-ingest"]
    assert not ingest.serves_http
    assert [Path(ingest.command[0]).name, *ingest.command[1:]] == [
        "codex-judge",
        "agents",
        "ingest",
    ]
    done = subprocess.run(
        [*ingest.command, "--help"], env=dict(ingest.env), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"ingest" in done.stdout


def test_every_function_has_a_service_that_runs_the_container_command(
    processes: dict[str, FunctionProcess],
) -> None:
    services = {name: p for name, p in processes.items() if p.serves_http}
    assert sorted(services) == sorted(FUNCTIONS)
    for name, process in services.items():
        assert [Path(process.command[0]).name, *process.command[1:]] == ["codex-judge", "serve"]
        assert process.env["FUNCTION_SOURCE"] == f"functions/{FUNCTIONS[name]}/main.py"


def test_no_process_is_pointed_off_the_machine(processes: dict[str, FunctionProcess]) -> None:
    for name, process in processes.items():
        for variable, value in process.env.items():
            host = urlsplit(value).hostname if "://" in value else None
            assert host in (None, "127.0.0.1", "localhost"), f"{name}: {variable}={value}"


@pytest.fixture(scope="module")
def services(
    fresh_venv: FreshVenv, processes: dict[str, FunctionProcess]
) -> Iterator[dict[str, Served]]:
    """Every function as its own process, started in parallel: the Service's container command
    run from the fresh venv's ``bin`` (the image's PATH), with the env its manifest declares."""
    started: dict[str, Served] = {}
    try:
        for name, declared in processes.items():
            if not declared.serves_http:
                continue  # the ingester Deployment: its command is checked above
            port = free_port()
            command = [str(fresh_venv.root / "bin" / Path(declared.command[0]).name)]
            env = dict(declared.env) | {"HOST": "127.0.0.1", "PORT": str(port)}
            log = fresh_venv.workdir / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [*command, *declared.command[1:]],
                    cwd=fresh_venv.workdir,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started[name] = Served(name, f"http://127.0.0.1:{port}", process, log)
        deadline = time.monotonic() + START_TIMEOUT_S
        for served in started.values():
            _wait_ready(served, deadline)
        yield started
    finally:
        for served in started.values():
            if served.process.poll() is None:
                served.process.terminate()
        for served in started.values():
            try:
                served.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                served.process.kill()
                served.process.wait()


def _exact_types(node: Any) -> set[str]:
    """Every event type a Trigger's filters match exactly (``filters`` dialects, nested)."""
    if isinstance(node, list):
        return set().union(*map(_exact_types, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = (
        {str(node["exact"]["type"])}
        if isinstance(node.get("exact"), dict) and "type" in node["exact"]
        else set()
    )
    return found.union(*(_exact_types(v) for k, v in node.items() if k != "exact"))


def _subscribed_types(name: str) -> set[str]:
    """The types the Triggers of the build deliver to Service ``name``."""
    return set().union(
        *(
            _exact_types(o["spec"])
            for o in kustomize_build(ROOT)
            if o.get("kind") == "Trigger" and o["spec"]["subscriber"]["ref"]["name"] == name
        )
    )


def _real_event(name: str) -> tuple[dict[str, str], bytes]:
    """A real event the function accepts: its ingested input for the three ingesters (recorded
    payloads, as KafkaSource and the wrapper send them); for a timer owner the scheduler's
    ``timers.due`` wake-up when its Trigger subscribes to one; otherwise a PingSource tick."""
    kafka = {"ce-type": "dev.knative.kafka.event", "ce-subject": "partition:0#7"}
    if name == "run-complete":
        body = (FIXTURES / "argo" / "sensor.succeeded.artgc-mixed-s3.params.json").read_bytes()
        return kafka, body
    if name == "github-webhook":
        hook = FIXTURES / "corpus" / "github-webhooks" / "check_suite.completed.success"
        return kafka, Path(f"{hook}.cogni-delivery.json").read_bytes()
    if name == "notify":
        notice = {"workflow_uid": "container-test-uid", "summary": "from the installed wheel"}
        return {"ce-type": "io.codexjudge.run.notify.v1"}, json.dumps(notice).encode()
    json_type = {"content-type": "application/json"}
    if TIMERS_DUE in _subscribed_types(name):
        wake_up = {"owner": name, "due": 0}
        headers = {"ce-type": TIMERS_DUE, "ce-timerowner": name, **json_type}
        return headers, json.dumps(wake_up).encode()
    return {"ce-type": "dev.knative.sources.ping", **json_type}, b"{}"


#: The Services that consume CloudEvents (the api is an HTTP Service: see
#: test_the_api_serves_its_ui_and_openapi_from_the_wheel).
CONSUMERS = [name for name in FUNCTIONS if name != "api"]


def test_the_api_serves_its_ui_and_openapi_from_the_wheel(services: dict[str, Served]) -> None:
    served = services["api"]
    assert httpx.get(served.url + "/openapi.json", timeout=30).json()["openapi"] == "3.1.0"
    login = httpx.get(served.url + "/ui/login", timeout=30)
    assert login.status_code == 200 and "API token" in login.text, served.log_tail()
    assert httpx.get(served.url + "/ui/static/app.js", timeout=30).status_code == 200


@pytest.mark.parametrize("name", CONSUMERS)
def test_each_function_answers_a_real_cloudevent(services: dict[str, Served], name: str) -> None:
    served = services[name]
    headers, body = _real_event(name)
    resp = httpx.post(
        served.url,
        content=body,
        headers={
            "ce-specversion": "1.0",
            "ce-id": f"container-{name}",
            "ce-source": "/container-test",
            **headers,
        },
        timeout=30,
    )
    assert 200 <= resp.status_code < 300, f"{resp.status_code} {resp.text}\n{served.log_tail()}"


@pytest.mark.parametrize("name", CONSUMERS)
def test_each_function_answers_a_malformed_cloudevent_with_4xx_naming_the_field(
    services: dict[str, Served], name: str
) -> None:
    served = services[name]
    resp = httpx.post(
        served.url,
        content=b"{}",
        headers={
            "ce-specversion": "1.0",
            "ce-source": "/container-test",
            "ce-type": "dev.knative.sources.ping",
            "content-type": "application/json",
        },  # no ce-id
        timeout=30,
    )
    assert 400 <= resp.status_code < 500, f"{resp.status_code} {resp.text}\n{served.log_tail()}"
    assert resp.json()["field"] in ("id", "ce-id"), resp.text
