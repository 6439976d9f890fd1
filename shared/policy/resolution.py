"""The effective policy of a repository: the policy packs layered over the Settings defaults.

Precedence, lowest first (issue 4 "Policy packs"):

1. Settings defaults (:func:`shared.policy.model.default_policy`);
2. the central pack, repository ``*``;
3. the repository's own pack (``owner/name``);
4. the repo-local file (``settings.policy_repo_local_path`` in the repository), only when
   ``settings.policy_repo_local_enabled``; its text is passed in by the caller. The file lives
   in the code under judgement, so it may set only :data:`REPO_LOCAL_KEYS` (timeouts and
   prompt-template locations): anything that could switch a gate off is refused with its path.

Each layer is validated on its own (:func:`shared.policy.packs.parse_pack`); an invalid layer
raises :class:`~shared.errors.InvalidDataError` naming ``policies[<layer>].<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.db import Tx
from shared.errors import InvalidDataError
from shared.policy.model import Policy, default_policy, merge_policy
from shared.policy.packs import SQL_CURRENT, parse_pack
from shared.runtime.envelope import parse_model
from shared.settings import Settings

CENTRAL = "*"
REPO_LOCAL_KEYS = frozenset(
    {
        "ci_timeout_s",
        "review_timeout_s",
        "reconcile_interval_s",
        "mergeable_poll_timeout_s",
        "prompt_template_path",
        "prompt_template_version",
    }
)


@dataclass(frozen=True)
class Resolved:
    """The effective policy and the layers it was built from (``layer``, ``repository``,
    ``version`` for stored packs, ``keys`` each layer set)."""

    policy: Policy
    layers: list[dict[str, Any]] = field(default_factory=list)


def resolve(
    tx: Tx, settings: Settings, repository: str | None, *, repo_local: str | None = None
) -> Resolved:
    """Build the effective policy (precedence in the module docstring).

    Raises:
        InvalidDataError: a layer is invalid, or the repo-local file sets a key outside
            :data:`REPO_LOCAL_KEYS`; ``field`` names the layer and key.
    """
    policy = default_policy(settings)
    layers: list[dict[str, Any]] = [{"layer": "defaults"}]
    for layer, name in (("central", CENTRAL), ("repository", repository)):
        if not name or (layer == "repository" and name == CENTRAL):
            continue
        row = tx.one(SQL_CURRENT, repository=name)
        if row is None:
            continue
        policy = merge_policy(policy, row["document"], repository=name)
        keys = sorted(row["document"]) if isinstance(row["document"], dict) else []
        layers.append({"layer": layer, "repository": name, "version": row["version"], "keys": keys})
    if repo_local is not None and settings.policy_repo_local_enabled:
        root = f"repo_local[{settings.policy_repo_local_path}]"
        document, _ = parse_pack(repo_local, root=root, max_bytes=settings.policy_max_bytes)
        for key in sorted(document):
            if key not in REPO_LOCAL_KEYS:
                raise InvalidDataError(
                    f"{root}.{key}: a repo-local policy file may set only "
                    f"{sorted(REPO_LOCAL_KEYS)}",
                    field=f"{root}.{key}",
                )
        policy = parse_model(Policy, {**policy.model_dump(), **document}, root=root)
        layers.append(
            {
                "layer": "repo_local",
                "path": settings.policy_repo_local_path,
                "keys": sorted(document),
            }
        )
    return Resolved(policy, layers)


def effective_policy(
    tx: Tx, settings: Settings, repository: str | None, *, repo_local: str | None = None
) -> tuple[Policy, str]:
    """The policy in force for ``repository`` (``owner/name``) and its SHA-256 hash.

    Precedence as in :func:`resolve`: Settings defaults → the central pack (repository ``*``)
    → the repository's pack → the repo-local file ``repo_local`` (its text, fetched by the
    caller; used only when ``settings.policy_repo_local_enabled``).

    Raises:
        InvalidDataError: a stored pack or the repo-local file is invalid; ``field`` names the
            layer and key, e.g. ``policies[o/r].protected_paths.0``.
    """
    resolved = resolve(tx, settings, repository, repo_local=repo_local)
    return resolved.policy, resolved.policy.digest()
