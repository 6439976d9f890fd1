"""Kafka in the kustomize builds: every topic a client names is a Strimzi KafkaTopic of the same
build, and every client (the Broker, the KafkaSources and KafkaSink, the Sensor) reaches Kafka
the same way: in production over the TLS listener with SASL/SCRAM-SHA-512 from Secrets, in dev
over the plaintext listener without credentials (knative/overlays/dev says why)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.local.mesh.kustomize import kustomize_build
from tests.conftest import ROOT

SECRET = "codex-judge-kafka-auth"
KAFKA_NAMESPACE = "kafka"  # where Strimzi's Topic Operator watches KafkaTopics


def _objects(overlay: str, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in kustomize_build(ROOT, overlay) if doc and doc.get("kind") == kind]


def _sensor_kafka(overlay: str) -> dict[str, Any]:
    (sensor,) = _objects(overlay, "Sensor")
    (trigger,) = sensor["spec"]["triggers"]
    kafka: dict[str, Any] = trigger["template"]["kafka"]
    return kafka


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_every_topic_a_client_names_is_a_kafka_topic_of_the_build(overlay: str) -> None:
    topics = {doc["spec"]["topicName"]: doc for doc in _objects(overlay, "KafkaTopic")}
    named = {t for src in _objects(overlay, "KafkaSource") for t in src["spec"]["topics"]}
    named |= {sink["spec"]["topic"] for sink in _objects(overlay, "KafkaSink")}
    named.add(_sensor_kafka(overlay)["topic"])
    assert named == set(topics)
    assert {"argo.workflows.completions", "github.webhooks"} <= named
    for topic in topics.values():
        assert topic["metadata"]["namespace"] == KAFKA_NAMESPACE
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "kafka"
        assert topic["spec"]["partitions"] == 6
        # An acknowledged completion (acks=all) survives losing one replica, where there are 3.
        assert topic["spec"]["config"]["min.insync.replicas"] < topic["spec"]["replicas"] or (
            topic["spec"]["replicas"] == 1
        )


def test_production_clients_use_sasl_scram_over_tls_from_secrets() -> None:
    (config,) = (
        doc
        for doc in _objects("production", "ConfigMap")
        if doc["metadata"]["name"] == "codex-judge-kafka-broker-config"
    )
    assert config["data"]["bootstrap.servers"].endswith(":9093")
    assert config["data"]["auth.secret.ref.name"] == SECRET

    for source in _objects("production", "KafkaSource"):
        spec = source["spec"]
        assert all(s.endswith(":9093") for s in spec["bootstrapServers"])
        sasl, tls = spec["net"]["sasl"], spec["net"]["tls"]
        assert sasl["enable"] is True and tls["enable"] is True
        refs = {f: sasl[f]["secretKeyRef"] for f in ("type", "user", "password")}
        refs["caCert"] = tls["caCert"]["secretKeyRef"]
        assert {r["name"] for r in refs.values()} == {SECRET}
        assert {f: r["key"] for f, r in refs.items()} == {
            "type": "sasl.mechanism",
            "user": "user",
            "password": "password",
            "caCert": "ca.crt",
        }

    for sink in _objects("production", "KafkaSink"):
        assert all(s.endswith(":9093") for s in sink["spec"]["bootstrapServers"])
        assert sink["spec"]["auth"]["secret"]["ref"]["name"] == SECRET

    kafka = _sensor_kafka("production")
    assert kafka["url"].endswith(":9093")
    assert kafka["sasl"]["mechanism"] == "SCRAM-SHA-512"
    assert kafka["sasl"]["userSecret"] == {"name": SECRET, "key": "user"}
    assert kafka["sasl"]["passwordSecret"] == {"name": SECRET, "key": "password"}
    assert kafka["tls"]["caCertSecret"] == {"name": SECRET, "key": "ca.crt"}


def test_dev_clients_use_the_plaintext_listener_without_credentials() -> None:
    (config,) = (
        doc
        for doc in _objects("dev", "ConfigMap")
        if doc["metadata"]["name"] == "codex-judge-kafka-broker-config"
    )
    assert config["data"]["bootstrap.servers"].endswith(":9092")
    assert "auth.secret.ref.name" not in config["data"]
    for source in _objects("dev", "KafkaSource"):
        assert all(s.endswith(":9092") for s in source["spec"]["bootstrapServers"])
        assert "net" not in source["spec"]
    for sink in _objects("dev", "KafkaSink"):
        assert all(s.endswith(":9092") for s in sink["spec"]["bootstrapServers"])
        assert "auth" not in sink["spec"]
    kafka = _sensor_kafka("dev")
    assert kafka["url"].endswith(":9092")
    assert "sasl" not in kafka and "tls" not in kafka
