"""Process settings: the only module that reads the environment (DESIGN §9).

Every field reads ``CODEX_JUDGE_<NAME>`` (``DATABASE_URL`` also works unprefixed, and the TLS
fields read libpq's ``PGSSLMODE``, ``PGSSLROOTCERT``, ``PGSSLCERT``, ``PGSSLKEY``) or a file
named like any of those variables in the directory that ``CODEX_JUDGE_SECRETS_DIR`` names (a
Kubernetes Secret volume: one file per key, its content the value, trailing whitespace dropped).

Precedence, highest first: arguments to ``Settings(...)``, environment variables, secret files,
defaults. An environment variable therefore wins over a file of the same name: an operator can
override one mounted secret for a debugging session with ``kubectl set env`` without editing the
Secret. ``CODEX_JUDGE_SECRETS_DIR`` is read when ``Settings()`` is instantiated, not at import.

The fields are grouped by concern in this package (:mod:`shared.settings.artifacts`; the
container command's own variables in :mod:`shared.settings.serve`). Secrets are ``SecretStr`` and
never logged. Upstream URLs left empty mean "use the local fake"
(``codex-judge up`` starts one) or, for the language model, "use the offline judge".
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from shared.settings.artifacts import ArtifactSettings
from shared.settings.retention import RetentionSettings
from shared.settings.worktrees import WorktreeSettings

SECRETS_DIR_ENV = "CODEX_JUDGE_SECRETS_DIR"
SslModeSetting = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(ArtifactSettings, WorktreeSettings, RetentionSettings):
    """All knobs of one process. Read once per process by :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="CODEX_JUDGE_",
        extra="ignore",
        secrets_dir=None,
        populate_by_name=True,
    )

    # --- state ---
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "CODEX_JUDGE_DATABASE_URL"),
        description="postgresql://user:pass@host:port/db; unset → embedded Postgres under data_dir",
    )
    data_dir: Path = Field(default=Path(".data"), description="embedded Postgres and mesh state")
    db_pool_size: int = Field(
        default=8,
        ge=2,
        le=64,
        description="at least 2 per request thread: a use case may"
        " hold its transaction while the effects outbox commits on a second connection",
    )
    db_host: str | None = Field(
        default=None,
        description="replaces DATABASE_URL's host (a name, an address, or a Unix socket directory"
        " starting with /): keeps CNPG's generated `uri` (user, password, database) while"
        " connecting through the PgBouncer Pooler Service, e.g. codex-judge-db-pooler-rw",
    )
    db_sslmode: SslModeSetting | None = Field(
        default=None,
        validation_alias=AliasChoices("PGSSLMODE", "CODEX_JUDGE_DB_SSLMODE"),
        description="libpq's sslmode; unset → prefer (verify-full with sslrootcert=system);"
        " DATABASE_URL's ?sslmode= wins. See shared/db/connect.py",
    )
    db_sslrootcert: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PGSSLROOTCERT", "CODEX_JUDGE_DB_SSLROOTCERT"),
        description="PEM file of the CA that signed the server certificate (CNPG: the"
        " <cluster>-ca Secret's ca.crt), or `system`; DATABASE_URL's ?sslrootcert= wins",
    )
    db_sslcert: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PGSSLCERT", "CODEX_JUDGE_DB_SSLCERT"),
        description="optional client certificate (PEM) for Postgres' cert authentication",
    )
    db_sslkey: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PGSSLKEY", "CODEX_JUDGE_DB_SSLKEY"),
        description="the client certificate's private key (PEM); unset → inside db_sslcert",
    )
    db_ssl: bool = Field(
        default=False,
        description="deprecated: true means db_sslmode=verify-full (with sslrootcert=system"
        " unless db_sslrootcert is set) when db_sslmode is unset",
    )

    # --- identity ---
    function_name: str = Field(default="codex-judge", description="the Knative Service name")
    event_source: str = Field(default="/codex-judge", description="CloudEvent source prefix")
    log_level: str = "INFO"
    otel_exporter: Literal["none", "console", "memory", "otlp"] = Field(
        default="none",
        description="where OpenTelemetry spans go (memory: tests; otlp: spans and metrics to"
        " OTEL_EXPORTER_OTLP_ENDPOINT over OTLP/HTTP)",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body a function reads, bytes; a larger one is answered 413"
        " (Knative's and Kafka's default message size is about 1 MB)",
    )

    # --- GitHub ---
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="comma-separated; several for rotation"
    )
    github_timeout_s: float = 10.0
    github_webhook_max_body_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description="github-webhook's max_body_bytes: GitHub caps webhook payloads at 25 MB"
        " (docs: 'Webhook events and payloads'); a relayed Kafka envelope may carry 4/3 of it"
        " as base64",
    )
    github_app_id: int | None = Field(
        default=None,
        description="GitHub App auth (instead of github_token): the App's id (JWT issuer)",
    )
    github_app_private_key: SecretStr | None = Field(
        default=None, description="the App's PEM private key; signs the RS256 JWT"
    )
    github_app_installation_id: int | None = Field(
        default=None, description="the installation whose access token the calls use"
    )
    github_etag_cache: bool = Field(
        default=True,
        description="conditional GETs (If-None-Match) for polling reads, cached in"
        " github.etag_cache; a 304 costs no rate limit",
    )
    github_write_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated owner/name repositories GitHub writes (merge, branch, PR)"
        " may go to; a write to any other repository is refused and recorded (DESIGN §11)",
    )

    # --- language model (OpenAI-compatible) ---
    llm_base_url: str | None = Field(default=None, description="unset → offline judge")
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 60.0
    llm_max_attempts: int = Field(default=3, ge=1, le=10)
    llm_retry_wait_cap_s: float = Field(
        default=2.0,
        ge=0,
        description="longest in-process wait (s) before retrying a 429/5xx from the model; "
        "after llm_max_attempts the judge records judge_unavailable",
    )
    llm_input_cost_per_mtok: float = Field(
        default=0.0, ge=0, description="USD per million prompt tokens (evaluation cost)"
    )
    llm_output_cost_per_mtok: float = Field(
        default=0.0, ge=0, description="USD per million completion tokens (evaluation cost)"
    )

    # --- embeddings for memories (OpenAI-compatible POST {base}/embeddings) ---
    embeddings_base_url: str | None = Field(
        default=None,
        description="API root incl. version, e.g. https://api.openai.com/v1; unset → the "
        "offline deterministic hashing embedder (lexical, no network, labelled in every row)",
    )
    embeddings_api_key: SecretStr | None = None
    embeddings_model: str = "text-embedding-3-small"
    embeddings_dimension: int = Field(
        default=256,
        ge=1,
        le=16000,
        description="vector length; checked against memories.entries at start (pgvector "
        "allows at most 16000 dimensions)",
    )
    embeddings_encoding_format: Literal["float", "base64"] = Field(
        default="base64", description="what to ask for; either answer shape is read"
    )
    embeddings_send_dimensions: bool = Field(
        default=True,
        description="send `dimensions` (text-embedding-3 models); off for endpoints that reject it",
    )
    embeddings_timeout_s: float = Field(default=30.0, description="request timeout, seconds")

    # --- Discord ---
    discord_webhook_url: SecretStr | None = None
    discord_max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="posts that failed (5xx, no answer) before a notice is dropped",
    )
    discord_max_rate_limited: int = Field(
        default=10,
        ge=1,
        le=100,
        description="posts Discord answered 429 (rate limited: retry after Retry-After)"
        " before a notice is dropped; counted apart from failed posts",
    )
    discord_bot_token: SecretStr | None = Field(
        default=None,
        description="bot-token mode (used when no webhook URL is set): POST"
        " {discord_api_url}/channels/{discord_channel_id}/messages with 'Authorization: Bot …'",
    )
    discord_channel_id: str | None = Field(default=None, description="bot-token mode's channel")
    discord_api_url: str = Field(
        default="https://discord.com/api/v10", description="Discord REST base (bot-token mode)"
    )

    # --- Facteur (rerun submissions as protobuf CodexTask) ---
    facteur_url: str | None = Field(
        default=None, description="Facteur base URL; reruns POST {facteur_url}/codex/tasks"
    )
    facteur_timeout_s: float = Field(default=10.0, gt=0, description="per-request seconds")
    rerun_workflow_template: str = Field(
        default="codex-autonomous",
        description="WorkflowTemplate a rerun submits to Argo when the judged run's own"
        " workflows.argoproj.io/workflow-template label is absent",
    )

    # --- Argo ---
    argo_server_url: str | None = None
    argo_token: SecretStr | None = Field(
        default=None, description="Argo Server bearer token (Authorization: Bearer <token>)"
    )
    argo_timeout_s: float = Field(default=10.0, description="Argo Server request timeout, seconds")

    # --- Argo CD (deploy mode argocd) ---
    argocd_url: str | None = Field(
        default=None, description="Argo CD API server, e.g. https://argocd.example.com"
    )
    argocd_token: SecretStr | None = Field(
        default=None, description="Argo CD API token (Authorization: Bearer <token>)"
    )
    argocd_timeout_s: float = Field(default=10.0, description="Argo CD request timeout, seconds")

    # --- where replies and webhook events go (Knative SinkBinding injects K_SINK) ---
    k_sink: str | None = Field(
        default=None, validation_alias=AliasChoices("K_SINK", "CODEX_JUDGE_K_SINK")
    )

    # --- default policy (per-repository policy packs override these) ---
    ai_reviewer_logins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "chatgpt-codex-connector[bot]",
            "copilot-pull-request-reviewer[bot]",
        ]
    )
    required_checks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    neutral_counts_as_success: bool = True
    skipped_counts_as_success: bool = True
    require_ai_review: bool = True
    no_op_markers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["[no-op]", "NO_CHANGES_NEEDED"]
    )
    max_attempts: int = Field(default=3, ge=1, le=20)

    # --- policy packs and the diff source (issue 4) ---
    policy_max_bytes: int = Field(
        default=65536, ge=1024, le=1048576, description="largest policy pack accepted, bytes"
    )
    policy_repo_local_enabled: bool = Field(
        default=False,
        description="apply the repository's own policy file as the last, narrowest layer",
    )
    policy_repo_local_path: str = Field(
        default=".codex-judge/policy.yaml",
        description="path of the repo-local policy file inside the repository",
    )
    diff_worktree_root: Path | None = Field(
        default=None,
        description="directory holding <owner>/<name> git clones; the judge then diffs "
        "base...head locally instead of asking GitHub",
    )

    # --- the api function and its web UI (issue 14; functions/api/auth.py) ---
    api_read_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="read-only bearer tokens, comma-separated (rotation)"
    )
    api_operator_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="tokens that may also act; `name:token` names the actor"
    )
    api_session_secret: SecretStr | None = Field(
        default=None, description="signs the UI's session cookie; unset → derived from the tokens"
    )
    api_auth_window_s: int = Field(
        default=300, ge=1, le=86400, description="window of the failed sign-in counters (seconds)"
    )
    api_login_max_failures: int = Field(
        default=10, ge=1, description="failed logins per client address and window before 429"
    )
    api_bearer_max_failures: int = Field(
        default=60, ge=1, description="wrong bearer tokens per client address and window before 429"
    )
    api_proxy_hops: int = Field(
        default=0,
        ge=0,
        le=5,
        description="trusted proxies in front of the api (Knative's ingress and queue-proxy):"
        " the client address is that many entries from the right of X-Forwarded-For;"
        " 0 → the TCP peer",
    )

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "CODEX_JUDGE_NATS_URL"),
        description="NATS server of the agent-messages stream (the local mesh starts its own)",
    )
    agents_stream: str = Field(default="agent-comms", description="JetStream stream name")
    agents_consumer: str = Field(
        default="agent-ingest", description="durable pull consumer of the ingester"
    )
    agents_codex_agent_id: str = Field(
        default="codex",
        description="agent id the Codex step publishes its exec stream as (agent-publish"
        " --agent); the backfill from the run's events artifact stores it under the same",
    )
    agents_batch: int = Field(
        default=256, ge=1, le=10_000, description="messages fetched and stored per transaction"
    )
    agents_sse_max_s: float = Field(
        default=300.0,
        gt=0,
        description="seconds one SSE response stays open; the client resumes with Last-Event-ID",
    )
    agents_sse_keepalive_s: float = Field(
        default=15.0, gt=0, description="seconds between SSE keep-alive comments"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then ``CODEX_JUDGE_SECRETS_DIR``'s files (read
        now, at instantiation), then defaults; see the module docstring."""
        secrets_dir = os.environ.get(SECRETS_DIR_ENV) or None
        secrets = SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir)
        return init_settings, env_settings, dotenv_settings, secrets

    def db_tls_mode(self) -> str | None:
        """``db_sslmode``, or verify-full when only the deprecated ``db_ssl`` is set."""
        if self.db_sslmode is None and self.db_ssl:
            return "verify-full"
        return self.db_sslmode

    def db_tls_rootcert(self) -> str | None:
        """``db_sslrootcert``, or ``system`` for the deprecated ``db_ssl`` without one (what
        ``db_ssl=true`` always verified against)."""
        if self.db_sslrootcert is None and self.db_ssl and self.db_sslmode is None:
            return "system"
        return self.db_sslrootcert

    @field_validator(
        "github_webhook_secrets",
        "api_read_tokens",
        "api_operator_tokens",
        "github_write_allowlist",
        "ai_reviewer_logins",
        "required_checks",
        "no_op_markers",
        "artifact_stores",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        """Lists come from the environment as comma-separated strings."""
        return _csv(value)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()


def inherited_environment() -> dict[str, str]:
    """A copy of this process's environment, for child processes the local mesh starts (their
    base layer; their manifests override it, see ``shared.local.mesh.cluster``)."""
    return dict(os.environ)
