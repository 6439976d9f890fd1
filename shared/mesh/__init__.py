"""The local mesh: a development emulator of the Knative Eventing pieces codex-judge runs on.

It reads the real manifests in ``knative/`` and ``triggers/`` (:mod:`shared.mesh.manifests`),
matches Trigger filters (:mod:`shared.mesh.filters`), applies Knative delivery semantics
(:mod:`shared.mesh.delivery`) and serves a Broker ingress with KafkaSource and PingSource
emulation (:mod:`shared.mesh.broker`). It knows nothing about runs (DESIGN §8).
"""
