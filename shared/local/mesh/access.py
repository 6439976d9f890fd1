"""How a person reaches the local mesh's api and web UI (issue 14): its URLs and, when no api
token is configured, one read-only and one operator token made for this mesh.

The tokens go where the cluster keeps them: into the stand-in of the Secret
``codex-judge-secrets`` (:data:`shared.local.mesh.supervisor.SECRETS`), which the mesh writes as
files into the api's mounted secret volume, read by its settings like any mounted Secret. The
read-only token is printed by ``codex-judge up`` and ``make run``; both are written to
``<data_dir>/ui-tokens.json`` (mode 0600) for ``codex-judge ui``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.settings import Settings

READ_VARIABLE = "CODEX_JUDGE_API_READ_TOKENS"
OPERATOR_VARIABLE = "CODEX_JUDGE_API_OPERATOR_TOKENS"
TOKENS_FILE = "ui-tokens.json"


@dataclass(frozen=True)
class UiAccess:
    """The tokens made for this mesh (None: the operator configured their own)."""

    read_token: str | None = None
    operator_token: str | None = None


def local_tokens(settings: Settings, stand_in: dict[str, str]) -> UiAccess:
    """Make a read-only and an operator token unless api tokens are configured (in settings or
    the Secret's stand-in); put them into ``stand_in`` and ``<data_dir>/ui-tokens.json``."""
    configured = settings.api_read_tokens or settings.api_operator_tokens
    if configured or READ_VARIABLE in stand_in or OPERATOR_VARIABLE in stand_in:
        return UiAccess()
    access = UiAccess(
        read_token=secrets.token_urlsafe(24), operator_token=secrets.token_urlsafe(24)
    )
    stand_in[READ_VARIABLE] = f"viewer:{access.read_token}"
    stand_in[OPERATOR_VARIABLE] = f"operator:{access.operator_token}"
    path = Path(settings.data_dir) / TOKENS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"read": access.read_token, "operator": access.operator_token}, out)
    return access


def read_tokens(settings: Settings) -> UiAccess:
    """The tokens the last mesh made (``<data_dir>/ui-tokens.json``), or none."""
    path = Path(settings.data_dir) / TOKENS_FILE
    if not path.is_file():
        return UiAccess()
    saved = json.loads(path.read_text())
    return UiAccess(read_token=saved.get("read"), operator_token=saved.get("operator"))


def ui_urls(functions: dict[str, str], access: UiAccess) -> dict[str, Any]:
    """``api``, ``ui`` and (when made here) ``ui_read_token`` for the JSON line of ``up``."""
    api = functions.get("api")
    if not api:
        return {}
    out: dict[str, Any] = {"api": api, "ui": f"{api}/ui/runs"}
    if access.read_token:
        out["ui_read_token"] = access.read_token
    return out
