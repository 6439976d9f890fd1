"""The container's command serves every function from the installed wheel (issue 8).

What the image does, without a Docker engine: the wheel is built from the files the Docker build
context holds, installed non-editable into a fresh virtualenv, and each of the 13 functions is
started as its Knative Service starts it, ``codex-judge serve`` with ``FUNCTION_SOURCE`` relative
to the installed package root, from a working directory outside the checkout. Each answers a
real binary-mode CloudEvent over HTTP, and a malformed one with a 4xx naming the field.

The fresh virtualenv borrows the dependencies of the running one through a ``.pth`` line (a
plain path entry: the editable install's finder in that directory is never activated), so
nothing is downloaded and ``shared`` can only come from the wheel.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.db import Database
from tests.functional.test_github_webhook import SECRET as RECORDED_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# The Docker build context (.dockerignore): what the wheel is built from.
CONTEXT = ("pyproject.toml", "README.md", "shared", "functions")
START_TIMEOUT_S = 90.0
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

    @property
    def command(self) -> list[str]:
        """The container's command, as every Knative Service declares it."""
        return [str(self.root / "bin" / "codex-judge"), "serve"]

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
    """One migrated database shared by the 13 processes of this module."""
    name = f"cj_container_{uuid.uuid4().hex[:10]}"
    admin = Database(pg_admin_url, size=1)
    with admin.connection() as con:
        con.run(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    base, _, query = pg_admin_url.partition("?")
    url = f"{base.rpartition('/')[0]}/{name}" + (f"?{query}" if query else "")
    yield url
    with admin.connection() as con:
        con.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@pytest.fixture(scope="module")
def services(fresh_venv: FreshVenv, container_database: str) -> Iterator[dict[str, Served]]:
    """Every function as its own ``codex-judge serve`` process, started in parallel."""
    started: dict[str, Served] = {}
    try:
        for name, folder in FUNCTIONS.items():
            port = _free_port()
            env = _base_env(fresh_venv.workdir) | {
                "FUNCTION_SOURCE": f"functions/{folder}/main.py",
                "FUNCTION_TARGET": "handle",
                "FUNCTION_SIGNATURE_TYPE": "http",
                "CODEX_JUDGE_FUNCTION_NAME": name,
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "WORKERS": "1",
                "THREADS": "1",
                "DATABASE_URL": container_database,
                # Nothing may leave the machine: upstreams unset (offline judge, no Discord)
                # except GitHub, which has a public default.
                "CODEX_JUDGE_GITHUB_API_URL": "http://127.0.0.1:9",
                # In the cluster a Secret: the one the recorded webhook deliveries were signed with.
                "CODEX_JUDGE_GITHUB_WEBHOOK_SECRETS": RECORDED_WEBHOOK_SECRET,
            }
            log = fresh_venv.workdir / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    fresh_venv.command,
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


def _real_event(name: str) -> tuple[dict[str, str], bytes]:
    """A real event the function accepts: its ingested input for the three ingesters (recorded
    payloads, as KafkaSource and the wrapper send them), a PingSource tick for the others."""
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
    return {"ce-type": "dev.knative.sources.ping", "content-type": "application/json"}, b"{}"


@pytest.mark.parametrize("name", list(FUNCTIONS))
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


@pytest.mark.parametrize("name", list(FUNCTIONS))
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
