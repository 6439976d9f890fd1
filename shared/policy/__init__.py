"""Policy: one repository's rules (:mod:`~shared.policy.model`), the versioned packs they are
stored as (:mod:`~shared.policy.packs`) and the effective policy layered from them
(:mod:`~shared.policy.resolution`). Imports point one way: resolution → packs → model."""
