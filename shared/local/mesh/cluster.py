"""The local mesh runs what the cluster runs: each function's process from its Knative Service.

:func:`~shared.local.mesh.kustomize.kustomize_build` renders ``knative/overlays/<overlay>``
into the objects a cluster would receive. :func:`function_processes` turns every
``serving.knative.dev/v1`` Service of that build into the command and environment of one local
process, exactly as the manifest declares them: container ``command``/``args``, ``env``
(``value`` with ``$(VAR)`` expansion, ``valueFrom`` Secret/ConfigMap keys), ``envFrom``,
``containerConcurrency``, mounted volumes, and ``K_SINK`` only where a SinkBinding selects the
Service. A Service whose manifest lacks an environment variable, a ConfigMap it needs or a sink
therefore fails (or strands its timers) locally first.

The differences from the cluster are unavoidable and all of them are here (:data:`DIFFERENCES`,
applied by :func:`function_processes` and nowhere else):

1. **Image** → the installed package: the container command's executable is looked up in the
   running interpreter's ``bin`` directory (``codex-judge`` of this checkout's virtualenv).
2. **Port** → Knative injects ``PORT=8080``; locally each function gets a free loopback port
   and ``HOST=127.0.0.1``.
3. **Secrets** → stand-ins: the database URL of the local server for the CNPG app Secret's
   ``uri``, and the :class:`LocalCluster` ``secrets`` for the others. Secret volumes are
   written as files under ``<data_dir>/volumes/<volume>/`` and every environment value that
   names a path under a volume's ``mountPath`` is rewritten to that directory; ``emptyDir``
   volumes become empty directories there.
4. **Database TLS** → the cluster reaches CNPG's Pooler over TLS (``CODEX_JUDGE_DB_HOST``,
   ``PGSSLMODE``, ``PGSSLROOTCERT``); locally those are dropped and the local database URL is
   used as it is (the embedded server is a Unix socket, where libpq uses no TLS).
5. **Upstream URLs** → GitHub, Discord, Argo, Argo CD and Facteur are the local fakes unless
   the operator configured real ones (:attr:`LocalCluster.upstreams`); these override the
   ConfigMap's values. With the fake GitHub, worktree snapshots clone from
   ``<data_dir>/git/<owner>/<name>`` over ``file://``.
6. **Sinks** → a SinkBinding whose sink is the Broker resolves to the local broker's ingress
   (in the cluster: the Kafka broker ingress URL).
7. **Retry-After** → the local broker honours a 429/503 ``Retry-After`` (capped by
   ``retryAfterMax`` where set), as Knative does with its alpha feature
   ``delivery-retryafter`` on; without the feature a cluster applies the Trigger's backoff.
9. **NACK and KEDA** → the stream and consumer of the ``jetstream.nats.io`` objects are created
   in the embedded NATS server (:mod:`shared.local.mesh.nats`) or the configured one, and a
   Deployment runs as one process however KEDA would scale it (zero while nothing is pending,
   in the cluster); ``CODEX_JUDGE_NATS_URL`` is that server's URL.
8. **Inherited environment** → the process starts from the parent's environment (PATH, the
   operator's own ``CODEX_JUDGE_*`` settings) minus ``K_SINK``; the manifest's ``envFrom``
   and ``env`` override it, as in a pod, then the differences above, then
   :attr:`LocalCluster.extra_env` (tests and the demo).

Errors: :class:`ClusterBuildError` (a ``ValueError``) names the overlay, the Service, the
variable and the missing object.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.local.mesh.kustomize import ClusterBuildError, deployments, services, sink_of

DB_APP_SECRET = "codex-judge-db-app"
"""The Secret CloudNativePG writes for the app user; its ``uri`` is the database URL."""

DB_CA_SECRET = "codex-judge-db-ca"
"""The Secret CloudNativePG writes with its CA (``ca.crt``); locally there is no TLS to verify."""

DIFFERENCES = (
    "image: the installed package's executables",
    "port: a free loopback port, HOST=127.0.0.1",
    "secrets: local stand-ins, secret volumes written under the data directory",
    "database TLS: CODEX_JUDGE_DB_HOST, PGSSLMODE, PGSSLROOTCERT dropped; the local URL as is",
    "upstream URLs: the local fakes unless configured",
    "sinks: the local broker's ingress",
    "Retry-After: honoured, as with Knative's alpha feature delivery-retryafter",
    "environment: inherited from the parent minus K_SINK; the manifest overrides it",
    "NACK, KEDA: JetStream objects created locally; a Deployment runs as one process",
)
"""One line per difference between a local process and its pod (see the module docstring)."""

_DB_TLS_VARIABLES = ("CODEX_JUDGE_DB_HOST", "PGSSLMODE", "PGSSLROOTCERT")
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$")


@dataclass(frozen=True)
class LocalCluster:
    """What stands in locally for the cluster's Secrets, upstreams and Broker address.

    Attributes:
        database_url: the local database (stands in for the CNPG app Secret's ``uri``).
        broker_url: the local broker's ingress (what a SinkBinding to the Broker resolves to).
        data_dir: where secret and emptyDir volumes are materialised.
        secrets: Secret name → key → value, for Secrets other than the CNPG app Secret.
        upstreams: environment variables for upstream URLs (fakes or configured services).
        extra_env: applied last (tests and the demo).
        inherited: the parent process's environment (the base layer).
    """

    database_url: str
    broker_url: str
    data_dir: Path
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    upstreams: Mapping[str, str] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    inherited: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionProcess:
    """One function as a local process, derived from its Knative Service.

    Attributes:
        name: the Knative Service name (``ci-status``).
        command: the container's ``command`` + ``args``, the executable resolved locally.
        env: the complete environment of the process (without ``PORT``/``HOST``, which the
            supervisor adds with the port it picked).
        container_concurrency: ``spec.template.spec.containerConcurrency`` (0 = unlimited).
        sink: the ``K_SINK`` a SinkBinding gives it, or None.
        serves_http: False for a Deployment (a pull consumer): no port, no readiness probe.
    """

    name: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    container_concurrency: int
    sink: str | None
    serves_http: bool = True


def function_processes(
    objects: list[dict[str, Any]], local: LocalCluster
) -> dict[str, FunctionProcess]:
    """Every Service (and every Deployment) of the build as a local process (see the module
    docstring).

    Raises:
        ClusterBuildError: a Service has no single container, or names a ConfigMap, Secret or
            key that neither the build nor the stand-ins have (and is not ``optional``).
    """
    config_maps = {
        (o["metadata"].get("namespace"), o["metadata"]["name"]): dict(o.get("data") or {})
        for o in objects
        if o.get("kind") == "ConfigMap" and o.get("apiVersion") == "v1"
    }
    out: dict[str, FunctionProcess] = {}
    for service in services(objects):
        process = _process(service, objects, config_maps, local)
        out[process.name] = process
    for deployment in deployments(objects):
        process = _process(deployment, objects, config_maps, local)
        out[process.name] = dataclasses.replace(process, serves_http=False)
    return out


def _process(
    service: dict[str, Any],
    objects: list[dict[str, Any]],
    config_maps: dict[tuple[Any, str], dict[str, str]],
    local: LocalCluster,
) -> FunctionProcess:
    meta = service["metadata"]
    name = str(meta["name"])
    namespace = meta.get("namespace")
    pod = ((service.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    if len(containers) != 1:
        raise ClusterBuildError(
            f"{service['kind']} {name}: expected one container, found {len(containers)}"
        )
    container = containers[0]
    where = f"{service['kind']} {name}"

    def config_map(ref_name: str) -> dict[str, str] | None:
        return config_maps.get((namespace, ref_name))

    def secret(ref_name: str) -> Mapping[str, str] | None:
        return _secret(ref_name, local)

    env = {k: v for k, v in local.inherited.items() if k != "K_SINK"}
    for source in container.get("envFrom") or []:
        env.update(_env_from(source, where, config_map, secret))
    declared: dict[str, str] = {}
    for item in container.get("env") or []:
        value = _env_value(item, where, config_map, secret, declared)
        if value is not None:
            declared[item["name"]] = value
    env.update(declared)

    # --- the differences (module docstring), in order ---
    mounts = _materialise_volumes(name, pod, container, local)
    for key, value in list(env.items()):
        env[key] = _local_path(value, mounts)
    for key in _DB_TLS_VARIABLES:
        env.pop(key, None)
    concurrency = int(pod.get("containerConcurrency") or 0)
    env.update(local.upstreams)
    sink = sink_of(service, objects)
    if sink is not None:
        env["K_SINK"] = _resolve_sink(sink, where, local)
    env.update(local.extra_env)

    command = [*(container.get("command") or []), *(container.get("args") or [])]
    if not command:
        raise ClusterBuildError(f"{where}: the container has no command (the image's entrypoint)")
    beside = Path(sys.executable).with_name(command[0])
    if beside.is_file():
        command[0] = str(beside)
    return FunctionProcess(
        name=name,
        command=tuple(_expand(c, env) for c in command),
        env=env,
        container_concurrency=concurrency,
        sink=env.get("K_SINK"),
    )


def _env_from(source: dict[str, Any], where: str, config_map: Any, secret: Any) -> dict[str, str]:
    prefix = str(source.get("prefix") or "")
    if "configMapRef" in source:
        ref, kind = source["configMapRef"], "ConfigMap"
        data = config_map(ref.get("name", ""))
    else:
        ref, kind = source.get("secretRef") or {}, "Secret"
        data = secret(ref.get("name", ""))
    if data is None:
        if ref.get("optional"):
            return {}
        raise ClusterBuildError(f"{where}: envFrom {kind} {ref.get('name')!r} does not exist")
    return {prefix + k: str(v) for k, v in data.items()}


def _env_value(
    item: dict[str, Any], where: str, config_map: Any, secret: Any, declared: dict[str, str]
) -> str | None:
    if "valueFrom" not in item:
        return _expand(str(item.get("value", "")), declared)
    source = item["valueFrom"]
    for field_name, kind, lookup in (
        ("secretKeyRef", "Secret", secret),
        ("configMapKeyRef", "ConfigMap", config_map),
    ):
        if field_name in source:
            ref = source[field_name]
            data = lookup(ref.get("name", ""))
            if data is not None and ref.get("key") in data:
                return str(data[ref["key"]])
            if ref.get("optional"):
                return None
            raise ClusterBuildError(
                f"{where}: env {item['name']}: {kind} {ref.get('name')!r} key "
                f"{ref.get('key')!r} does not exist"
            )
    raise ClusterBuildError(f"{where}: env {item['name']}: unsupported valueFrom {sorted(source)}")


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: a defined variable is replaced, ``$$`` escapes."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR_REF.sub(sub, value)


def _materialise_volumes(
    name: str, pod: dict[str, Any], container: dict[str, Any], local: LocalCluster
) -> dict[str, Path]:
    """mountPath → local directory, for every mounted secret or emptyDir volume."""
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise ClusterBuildError(f"Service {name}: volumeMount {mount['name']!r} has no volume")
        target = local.data_dir / "volumes" / name / mount["name"]
        target.mkdir(parents=True, exist_ok=True)
        if "secret" in volume:
            secret_name = volume["secret"].get("secretName", "")
            data = _secret(secret_name, local)
            if data is None:
                if not volume["secret"].get("optional"):
                    raise ClusterBuildError(
                        f"Service {name}: volume {mount['name']!r}: Secret {secret_name!r} has "
                        "no local stand-in"
                    )
                data = {}
            items = volume["secret"].get("items")
            pairs = (
                [(i["key"], i["path"]) for i in items if i["key"] in data]
                if items
                else [(k, k) for k in data]
            )
            for key, path in pairs:
                (target / path).write_text(data[key])
        mounts[str(mount["mountPath"]).rstrip("/")] = target
    return mounts


def _secret(name: str, local: LocalCluster) -> Mapping[str, str] | None:
    """A Secret's local stand-in: CNPG's from the local database, the others from ``local``."""
    if name == DB_APP_SECRET:
        return {"uri": local.database_url}
    if name == DB_CA_SECRET:
        return {}
    return local.secrets.get(name)


def _local_path(value: str, mounts: dict[str, Path]) -> str:
    for mount_path, local_dir in mounts.items():
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(local_dir) + value[len(mount_path) :]
    return value


def _resolve_sink(sink: dict[str, Any], where: str, local: LocalCluster) -> str:
    ref = sink.get("ref") or {}
    if ref.get("kind") == "Broker":
        return local.broker_url
    if sink.get("uri"):
        return str(sink["uri"])
    raise ClusterBuildError(f"{where}: SinkBinding sink {sink} cannot be resolved locally")
