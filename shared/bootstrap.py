"""The composition root: builds every dependency once per process, never at import time.

Functions call :func:`container`; tests call :func:`install` with a container of their own
(for example one whose database is a fresh test database and whose upstream URLs point at fakes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from shared.db import Database, TlsOptions
from shared.ports import (
    Argo,
    ArgoCD,
    Broker,
    Discord,
    Embedder,
    Facteur,
    GitHub,
    GitHubWriter,
    LanguageModel,
)
from shared.settings import Settings, get_settings
from shared.telemetry import logs, observability

if TYPE_CHECKING:
    from shared.artifacts.port import ArtifactStore
    from shared.db.connect import SslMode
    from shared.github.snapshots import Snapshotter

Built = TypeVar("Built")


@dataclass
class Container:
    """Everything a function needs. Adapters are built lazily on first use."""

    settings: Settings
    db: Database
    _cache: dict[str, Any] = field(default_factory=dict)
    _embedded: Any = None

    def _once(self, name: str, build: Callable[[], Built]) -> Built:
        """The adapter cached under ``name``, built by ``build`` on the first call."""
        if name not in self._cache:
            self._cache[name] = build()
        return cast("Built", self._cache[name])

    def github(self) -> GitHub:
        """The GitHub adapter (``github_api_url``; token or App auth; ETag cache in Postgres)."""
        from shared.adapters.github import HttpxGitHub

        return self._once("github", lambda: HttpxGitHub.from_settings(self.settings, db=self.db))

    def github_writer(self) -> GitHubWriter:
        """The GitHub write adapter (same URL and token as :meth:`github`). Use it through
        :mod:`shared.effects.writes` (allow-list, dry run, effects outbox, audit)."""
        from shared.adapters.github_write import HttpxGitHubWriter

        return self._once("github_writer", lambda: HttpxGitHubWriter.from_settings(self.settings))

    def language_model(self) -> LanguageModel | None:
        """The OpenAI-compatible adapter, or None when no endpoint is configured (offline)."""
        if not self.settings.llm_base_url:
            return None
        from shared.adapters.llm import HttpxLanguageModel

        return self._once("llm", lambda: HttpxLanguageModel.from_settings(self.settings))

    def discord(self) -> Discord | None:
        """The Discord adapter (webhook, else bot token), or None when neither is configured."""
        bot_mode = self.settings.discord_bot_token is not None and self.settings.discord_channel_id
        if self.settings.discord_webhook_url is None and not bot_mode:
            return None
        from shared.adapters.discord import HttpxDiscord

        return self._once("discord", lambda: HttpxDiscord.from_settings(self.settings))

    def embedder(self) -> Embedder:
        """The memories embedder chosen by :func:`embedder_for`."""
        return self._once("embedder", lambda: embedder_for(self.settings))

    def argo(self) -> Argo:
        """The Argo Workflows server adapter (``argo_server_url``, ``argo_token``).

        Raises:
            UpstreamError: no ``argo_server_url`` is configured.
        """
        from shared.adapters.argo import HttpxArgo

        return self._once("argo", lambda: HttpxArgo.from_settings(self.settings))

    def argocd(self) -> ArgoCD:
        """The Argo CD API adapter (``argocd_url``, ``argocd_token``).

        Raises:
            UpstreamError: no ``argocd_url`` is configured.
        """
        from shared.adapters.argocd import HttpxArgoCD

        return self._once("argocd", lambda: HttpxArgoCD.from_settings(self.settings))

    def facteur(self) -> Facteur:
        """The Facteur adapter (``facteur_url``, ``facteur_timeout_s``).

        Raises:
            ValueError: no ``facteur_url`` is configured.
        """
        from shared.adapters.facteur import HttpxFacteur

        return self._once("facteur", lambda: HttpxFacteur.from_settings(self.settings))

    def broker(self) -> Broker:
        """The Broker through ``K_SINK``. Built on each call, not cached: ``k_sink`` is read
        when publishing, so a SinkBinding that arrives (or goes) is seen at once."""
        from shared.adapters.broker import HttpxBroker

        return HttpxBroker.from_settings(self.settings)

    def git_worktrees(self) -> Snapshotter | None:
        """The worktree snapshotter (issue 13) under ``worktree_dir``, authenticated with the
        GitHub App installation token (else ``github_token``); None when no directory is set."""
        if self.settings.worktree_dir is None:
            return None
        from shared.adapters.git_worktree import GitWorktrees

        return self._once("git_worktrees", lambda: GitWorktrees.from_settings(self.settings))

    def artifact_stores(self) -> list[ArtifactStore]:
        """The stores run artifacts are read from, in ``artifact_stores`` order (issue 13);
        empty when none is configured. ``argo-server`` needs ``argo_server_url``."""
        if "artifact_stores" not in self._cache:
            from shared.adapters.argo_artifacts import HttpxArgoArtifactStore
            from shared.adapters.s3_artifacts import S3ArtifactStore

            stores: list[ArtifactStore] = []
            for kind in self.settings.artifact_stores:
                if kind == "s3":
                    stores.append(S3ArtifactStore.from_settings(self.settings))
                elif argo := HttpxArgoArtifactStore.from_settings(self.settings):
                    stores.append(argo)
            self._cache["artifact_stores"] = stores
        return self._cache["artifact_stores"]  # type: ignore[no-any-return]


def embedder_for(settings: Settings) -> Embedder:
    """The memories embedder: the OpenAI-compatible adapter when ``embeddings_base_url`` is
    set, else the offline deterministic :class:`~shared.memories.embedder.HashingEmbedder`;
    both of ``embeddings_dimension``."""
    if settings.embeddings_base_url:
        from shared.adapters.embeddings import HttpxEmbeddings

        return HttpxEmbeddings.from_settings(settings)
    from shared.memories.embedder import HashingEmbedder

    return HashingEmbedder(settings.embeddings_dimension)


_lock = threading.Lock()
_container: Container | None = None


def database(settings: Settings, url: str, *, require_schema: bool = True) -> Database:
    """The process's pool for ``url`` with the TLS and host settings (see
    :mod:`shared.db.connect`): ``db_sslmode``/``db_sslrootcert``/``db_sslcert``/``db_sslkey``
    (the URL's query string wins), ``db_host``, and the deprecated ``db_ssl``.

    With ``require_schema`` its first transaction checks that the schema has every migration
    this build ships (:class:`shared.db.schema.SchemaGate`: 503 until it has); migrations and
    other work on :meth:`Database.connection` are never gated.
    """
    from shared.db.schema import SchemaGate

    mode = settings.db_tls_mode()
    tls = TlsOptions(
        sslmode=cast("SslMode | None", mode),
        sslrootcert=settings.db_tls_rootcert(),
        sslcert=settings.db_sslcert,
        sslkey=settings.db_sslkey,
    )
    return Database(
        url,
        size=settings.db_pool_size,
        tls=tls,
        host=settings.db_host,
        gate=SchemaGate() if require_schema else None,
    )


def build(settings: Settings, *, require_schema: bool = True) -> Container:
    """Build a container from settings, starting the embedded Postgres if no URL is set.

    ``require_schema``: see :func:`database` (``codex-judge migrate`` needs no gate, as it only
    uses :meth:`Database.connection`; the gate stays on by default).
    """
    embedded = None
    url = settings.database_url
    if not url:
        from shared.db.embedded import start_embedded

        url, embedded = start_embedded(settings.data_dir)
    db = database(settings, url, require_schema=require_schema)
    return Container(settings=settings, db=db, _embedded=embedded)


def container() -> Container:
    """The process-wide container, built on first call from :func:`get_settings`."""
    global _container
    with _lock:
        if _container is None:
            settings = get_settings()
            logs.configure(settings.log_level)
            observability.configure(settings.function_name, settings.otel_exporter)
            _container = build(settings)
        return _container


def install(new: Container | None) -> None:
    """Replace the process-wide container (tests; ``None`` resets it)."""
    global _container
    with _lock:
        _container = new
