"""Policy packs: versioned YAML/JSON documents in Postgres, the layers of the effective policy.

A pack is a mapping of :class:`~shared.policy.model.Policy` keys (every key optional; only the keys
it names override). ``codex-judge policy set`` stores each pack as a new row of
``codex_judge.policy_versions`` and makes it current in ``codex_judge.policies``; old versions
stay readable. :mod:`shared.policy.resolution` layers the current packs into the effective
policy.

Each pack is validated on its own (unknown keys, wrong types, invalid RE2 patterns →
:class:`~shared.errors.InvalidDataError` naming ``policies[<layer>].<key>``) and capped at
``settings.policy_max_bytes`` (64 KiB by default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import re2
import yaml

from shared.db import Tx
from shared.errors import InvalidDataError
from shared.policy.model import Policy
from shared.runtime.envelope import parse_model
from shared.settings import Settings

_REPOSITORY = re2.compile(r"^(\*|[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)$")

SQL_CURRENT = """
SELECT repository, version, document, updated_at FROM codex_judge.policies
WHERE repository = :repository
"""
SQL_VERSION = """
SELECT repository, version, document, source_format, source_text, digest, created_by, created_at
FROM codex_judge.policy_versions WHERE repository = :repository AND version = :version
"""
SQL_HISTORY = """
SELECT version, digest, source_format, created_by, created_at
FROM codex_judge.policy_versions WHERE repository = :repository ORDER BY version
"""
SQL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('codex_judge.policy:' || :repository))"
SQL_NEXT_VERSION = """
SELECT GREATEST(
  (SELECT COALESCE(MAX(version), 0) FROM codex_judge.policy_versions
   WHERE repository = :repository),
  (SELECT COALESCE(MAX(version), 0) FROM codex_judge.policies
   WHERE repository = :repository)
) + 1 AS version
"""
SQL_INSERT_VERSION = """
INSERT INTO codex_judge.policy_versions
  (repository, version, document, source_format, source_text, digest, created_by)
VALUES (:repository, :version, CAST(:document AS jsonb), :source_format, :source_text, :digest,
        :created_by)
"""
SQL_UPSERT_CURRENT = """
INSERT INTO codex_judge.policies (repository, version, document, updated_at)
VALUES (:repository, :version, CAST(:document AS jsonb), now())
ON CONFLICT (repository) DO UPDATE
SET version = EXCLUDED.version, document = EXCLUDED.document, updated_at = now()
"""


def layer_name(repository: str) -> str:
    """The error path root of a layer: ``policies[<repository>]``."""
    return f"policies[{repository}]"


def check_repository(repository: str) -> str:
    """``repository`` when it is ``*`` or ``owner/name``.

    Raises:
        InvalidDataError: ``field`` is ``repository``.
    """
    if not _REPOSITORY.match(repository or ""):
        raise InvalidDataError(
            f"repository: expected '*' or 'owner/name', got {repository!r}", field="repository"
        )
    return repository


def parse_pack(
    text: str, *, root: str, max_bytes: int = 65536
) -> tuple[dict[str, Any], Literal["yaml", "json"]]:
    """Parse and validate one pack's text (JSON, or YAML, which JSON is a subset of).

    Args:
        text: the document; at most ``max_bytes`` bytes of UTF-8.
        root: the error path root, e.g. ``policies[o/r]``.

    Returns:
        (the document as a dict, the format it was read as).

    Raises:
        InvalidDataError: too large, not parseable, not a mapping, an unknown key, a value of
            the wrong type or an invalid RE2 pattern; ``field`` is the offending path.
    """
    size = len(text.encode())
    if size > max_bytes:
        raise InvalidDataError(
            f"{root}: policy pack is {size} bytes, the limit is {max_bytes}",
            field=root,
        )
    fmt: Literal["yaml", "json"] = "json" if text.lstrip().startswith("{") else "yaml"
    try:
        document = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidDataError(f"{root}: not valid {fmt.upper()}: {exc}", field=root) from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidDataError(
            f"{root}: policy pack must be a mapping, got {type(document).__name__}", field=root
        )
    parse_model(Policy, document, root=root)  # every key known, typed, patterns RE2-valid
    return document, fmt


@dataclass(frozen=True)
class StoredPack:
    """One stored version of a repository's pack."""

    repository: str
    version: int
    document: dict[str, Any]
    source_format: str
    source_text: str
    digest: str
    created_by: str | None
    created_at: Any


def set_pack(
    tx: Tx, settings: Settings, repository: str, text: str, *, created_by: str | None = None
) -> StoredPack:
    """Validate ``text`` and store it as the next version of ``repository``'s pack (``*`` is
    the central pack), making it current. Versions are serialised per repository by an
    advisory lock, so two concurrent ``set`` calls get consecutive numbers.

    Raises:
        InvalidDataError: see :func:`check_repository` and :func:`parse_pack`.
    """
    check_repository(repository)
    document, fmt = parse_pack(
        text, root=layer_name(repository), max_bytes=settings.policy_max_bytes
    )
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    digest = Policy.model_validate(document).digest()
    tx.one(SQL_LOCK, repository=repository)
    row = tx.one(SQL_NEXT_VERSION, repository=repository)
    version = int(row["version"]) if row else 1
    params = {"repository": repository, "version": version, "document": canonical}
    tx.run(
        SQL_INSERT_VERSION,
        **params,
        source_format=fmt,
        source_text=text,
        digest=digest,
        created_by=created_by,
    )
    tx.run(SQL_UPSERT_CURRENT, **params)
    stored = get_pack(tx, repository, version)
    assert stored is not None  # inserted above, in this transaction
    return stored


def get_pack(tx: Tx, repository: str, version: int | None = None) -> StoredPack | None:
    """The current (or the given) version of ``repository``'s pack; None when none is stored."""
    current = tx.one(SQL_CURRENT, repository=repository) if version is None else None
    if version is None:
        if current is None:
            return None
        version = int(current["version"])
    row = tx.one(SQL_VERSION, repository=repository, version=version)
    if row is not None:
        return StoredPack(**row)
    if current is None:
        return None
    # A row written straight into codex_judge.policies (before versioning, or by hand).
    text = json.dumps(current["document"], sort_keys=True)
    return StoredPack(
        repository,
        version,
        current["document"],
        "json",
        text,
        Policy.model_validate(current["document"]).digest(),
        None,
        current["updated_at"],
    )


def pack_history(tx: Tx, repository: str) -> list[dict[str, Any]]:
    """Every stored version of ``repository``'s pack, oldest first (no documents)."""
    return tx.all(SQL_HISTORY, repository=repository)
