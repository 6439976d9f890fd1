"""The embedded Postgres default: the ``pgserver`` package, data under ``<data_dir>/pg``.

Used when ``DATABASE_URL`` is unset (DESIGN §8). Several processes may share one data
directory; pgserver keeps the server up while any of them uses it. Like CNPG's bootstrap, the
superuser creates the extensions the migrations need (:data:`shared.db.migrate.
REQUIRED_EXTENSIONS`) in the default database; databases made with
:func:`shared.db.provision.bootstrap_database` get them the same way.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def start_embedded(data_dir: Path) -> tuple[str, Any]:
    """Start (or join) the embedded server; returns ``(database_url, server_handle)``.

    The URL connects as the superuser ``postgres`` to the default database, in which the
    required extensions exist. The handle must stay referenced for as long as the server is
    needed.

    Raises:
        RuntimeError: pgserver could not start Postgres (its log is in the message), or it is
            not installed: it comes with the ``local`` extra only, never in the image.
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        try:
            import pgserver  # heavy import, only where the embedded default is used
        except ImportError as exc:
            raise RuntimeError(
                "DATABASE_URL is not set and the embedded Postgres (pgserver) is not installed:"
                " set DATABASE_URL to postgresql://user:pass@host:port/db, or install"
                " codex-judge[local] for the embedded default"
            ) from exc

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(  # type: ignore[attr-defined]
        str(pgdata), cleanup_mode="stop"
    )
    url = str(server.get_uri())
    from shared.db.provision import ensure_extensions

    ensure_extensions(url)
    return url, server
