"""Typed views of the Knative objects of a kustomize build of ``knative/`` (DESIGN §8).

Only the fields the local broker acts on are modelled; everything else in a document is
ignored, and kinds the mesh does not emulate (CNPG ``Cluster``, ``Kustomization``, Argo Events
``Sensor``, ``ConfigMap`` …) are skipped. Field names follow the Knative API
(``eventing.knative.dev/v1`` Broker and Trigger, ``eventing.knative.dev/v1alpha1`` KafkaSink,
``sources.knative.dev/v1`` KafkaSource and PingSource, ``serving.knative.dev/v1`` Service);
the JSON Schemas in ``tests/fixtures/k8s-schemas/`` are the reference for them.

Errors: :class:`ManifestError` (a ``ValueError``) names the file, the document and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

REPLIES_ANNOTATION = "codex-judge.io/replies"
"""Service annotation: comma-separated event types the function may reply with (``*`` suffix =
a prefix, e.g. ``com.github.*``). Read by the reply-loop test; Knative itself ignores it."""


class ManifestError(ValueError):
    """A manifest document that cannot be read; the message names the file and field."""


class _Spec(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class KReference(_Spec):
    """A Knative ``KReference`` (``apiVersion``, ``kind``, ``name``, ``namespace``)."""

    kind: str
    name: str
    api_version: str | None = None
    namespace: str | None = None


class Destination(_Spec):
    """A Knative ``Destination``: a ``ref`` to an Addressable and/or a ``uri``."""

    ref: KReference | None = None
    uri: str | None = None


class DeliverySpec(_Spec):
    """``spec.delivery`` of a Broker, Trigger or KafkaSource (Knative ``DeliverySpec``).

    Durations are ISO-8601 strings (``PT0.2S``); see :mod:`shared.local.mesh.delivery`.
    """

    retry: int | None = None
    backoff_policy: Literal["linear", "exponential"] | None = None
    backoff_delay: str | None = None
    timeout: str | None = None
    retry_after_max: str | None = None
    dead_letter_sink: Destination | None = None


class _Object(_Spec):
    name: str
    namespace: str


class Broker(_Object):
    """An ``eventing.knative.dev/v1`` Broker."""

    delivery: DeliverySpec | None = None


class Trigger(_Object):
    """An ``eventing.knative.dev/v1`` Trigger: ``filter.attributes`` and/or ``filters``."""

    broker: str
    attributes: dict[str, str] = Field(default_factory=dict, description="spec.filter.attributes")
    filters: list[dict[str, Any]] = Field(default_factory=list, description="spec.filters")
    subscriber: Destination
    delivery: DeliverySpec | None = None


class KafkaSource(_Object):
    """A ``sources.knative.dev`` KafkaSource (the sink should be the Broker, DESIGN §2)."""

    topics: list[str]
    sink: Destination
    delivery: DeliverySpec | None = None


class KafkaSink(_Object):
    """An ``eventing.knative.dev/v1alpha1`` KafkaSink: an Addressable that appends each event
    it receives to ``topic`` (``content_mode`` as in its CRD, whose default is ``binary``)."""

    topic: str
    content_mode: Literal["binary", "structured"] = "binary"


class PingSource(_Object):
    """A ``sources.knative.dev/v1`` PingSource (``schedule`` is a cron expression)."""

    schedule: str
    sink: Destination
    data: str | None = None
    content_type: str | None = None


class Service(_Object):
    """A ``serving.knative.dev/v1`` Service and the event types it may reply with."""

    replies: tuple[str, ...] = ()


class Manifests(_Spec):
    """Every emulated object found under the manifest directories."""

    brokers: list[Broker] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    kafka_sources: list[KafkaSource] = Field(default_factory=list)
    kafka_sinks: list[KafkaSink] = Field(default_factory=list)
    ping_sources: list[PingSource] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)

    def broker(self, name: str | None = None) -> Broker:
        """The Broker called ``name`` (or the only one).

        Raises:
            ManifestError: no such Broker, or several and no name given.
        """
        found = [b for b in self.brokers if name is None or b.name == name]
        if len(found) != 1:
            raise ManifestError(
                f"expected one Broker{f' named {name!r}' if name else ''}, "
                f"found {[b.name for b in self.brokers]}"
            )
        return found[0]

    def triggers_of(self, broker: Broker) -> list[Trigger]:
        """The Triggers attached to ``broker`` (same name and namespace)."""
        return [
            t for t in self.triggers if t.broker == broker.name and t.namespace == broker.namespace
        ]


def read_documents(paths: Iterable[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every non-empty YAML document in ``paths`` (``*.yaml``/``*.yml``), with its file.

    Raises:
        ManifestError: a file is not YAML or a document is not a mapping.
    """
    for path in paths:
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as exc:
            raise ManifestError(f"{path}: not YAML: {exc}") from exc
        for index, doc in enumerate(docs):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ManifestError(f"{path} document {index}: expected a mapping")
            yield path, doc


def load_manifests(root: Path, overlay: str | None = None) -> Manifests:
    """The emulated objects of the kustomize build of ``root/knative/overlays/<overlay>``
    (default: the overlay the local mesh runs, :data:`shared.local.mesh.kustomize.OVERLAY`).

    Raises:
        ManifestError: a document of an emulated kind is invalid; names the build and field.
        ClusterBuildError: the overlay cannot be built.
    """
    from shared.local.mesh.kustomize import OVERLAY, kustomize_build, overlay_dir

    name = overlay or OVERLAY
    where = overlay_dir(root, name)
    return parse_documents((where, doc) for doc in kustomize_build(root, name))


def parse_documents(docs: Iterable[tuple[Path, dict[str, Any]]]) -> Manifests:
    """Build :class:`Manifests` from parsed documents (kinds not emulated are skipped)."""
    out = Manifests()
    for path, doc in docs:
        kind = doc.get("kind")
        builder = _BUILDERS.get(str(kind))
        group = str(doc.get("apiVersion") or "").partition("/")[0]
        if builder is None or group not in _GROUPS:
            continue  # not emulated, or a same-named core kind (a v1 Service)
        meta = doc.get("metadata") or {}
        spec = doc.get("spec") or {}
        fields = {"name": meta.get("name"), "namespace": meta.get("namespace") or "default"}
        try:
            bucket, obj = builder(fields, spec, meta)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ManifestError(
                f"{path}: {kind} {fields['name']!r}: {where}: {first['msg']}"
            ) from exc
        getattr(out, bucket).append(obj)
    return out


def _broker(fields: dict[str, Any], spec: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
    return "brokers", Broker.model_validate({**fields, "delivery": spec.get("delivery")})


def _trigger(fields: dict[str, Any], spec: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
    return "triggers", Trigger.model_validate(
        {
            **fields,
            "broker": spec.get("broker"),
            "attributes": (spec.get("filter") or {}).get("attributes") or {},
            "filters": spec.get("filters") or [],
            "subscriber": spec.get("subscriber"),
            "delivery": spec.get("delivery"),
        }
    )


def _kafka(fields: dict[str, Any], spec: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
    return "kafka_sources", KafkaSource.model_validate(
        {
            **fields,
            "topics": spec.get("topics"),
            "sink": spec.get("sink"),
            "delivery": spec.get("delivery"),
        }
    )


def _kafka_sink(
    fields: dict[str, Any], spec: dict[str, Any], meta: dict[str, Any]
) -> tuple[str, Any]:
    return "kafka_sinks", KafkaSink.model_validate(
        {**fields, "topic": spec.get("topic"), "content_mode": spec.get("contentMode") or "binary"}
    )


def _ping(fields: dict[str, Any], spec: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
    return "ping_sources", PingSource.model_validate({**fields, **spec})


def _service(fields: dict[str, Any], spec: dict[str, Any], meta: dict[str, Any]) -> tuple[str, Any]:
    raw = str((meta.get("annotations") or {}).get(REPLIES_ANNOTATION) or "")
    replies = tuple(item.strip() for item in raw.split(",") if item.strip())
    return "services", Service.model_validate({**fields, "replies": replies})


_GROUPS = {"eventing.knative.dev", "sources.knative.dev", "serving.knative.dev"}
_BUILDERS = {
    "Broker": _broker,
    "Trigger": _trigger,
    "KafkaSource": _kafka,
    "KafkaSink": _kafka_sink,
    "PingSource": _ping,
    "Service": _service,
}
