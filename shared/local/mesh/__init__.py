"""The local mesh: a development emulator of the Knative Eventing pieces codex-judge runs on.

It reads the real manifests in ``knative/`` and ``triggers/`` (:mod:`shared.local.mesh.manifests`),
matches Trigger filters (:mod:`shared.local.mesh.filters`), applies Knative delivery semantics
(:mod:`shared.local.mesh.delivery`) and serves a Broker ingress with KafkaSource and PingSource
emulation (:mod:`shared.local.mesh.broker`). It knows nothing about runs (DESIGN §8).
"""
