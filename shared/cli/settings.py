"""Where the command line finds the database: ``DATABASE_URL``, else the database of the last
local mesh (``<data_dir>/mesh.json``, written by ``codex-judge up`` and ``make run``) on the
embedded Postgres — started again (or joined) when it is not running, so ``codex-judge runs``
and ``explain`` work after ``make run`` has stopped the mesh.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.settings import Settings

_embedded: list[Any] = []  # keeps the embedded server's handle alive for this process


def mesh_file(settings: Settings) -> Path:
    """``<data_dir>/mesh.json``."""
    return Path(settings.data_dir) / "mesh.json"


def read_mesh(settings: Settings) -> dict[str, Any] | None:
    """The URLs the last ``up``/``demo`` wrote, or None when there is none."""
    path = mesh_file(settings)
    return dict(json.loads(path.read_text())) if path.is_file() else None


def cli_settings(settings: Settings | None = None) -> Settings:
    """Settings whose ``database_url`` is set: DATABASE_URL, else the last mesh's database on
    the embedded server, else the embedded server's default database."""
    settings = settings or Settings()
    if settings.database_url:
        return settings
    from shared.db.embedded import start_embedded

    url, server = start_embedded(Path(settings.data_dir))
    _embedded.append(server)
    mesh = read_mesh(settings) or {}
    recorded = str(mesh.get("database_url") or "")
    if recorded.partition("?")[2] == url.partition("?")[2]:  # same embedded socket
        url = recorded
    return settings.model_copy(update={"database_url": url})
