"""Process settings: the only module that reads the environment (DESIGN §9).

Every field reads ``CODEX_JUDGE_<NAME>`` (``DATABASE_URL`` also works unprefixed) or a file of
the same name under ``CODEX_JUDGE_SECRETS_DIR`` (Kubernetes Secret volumes). Secrets are
``SecretStr`` and never logged. Upstream URLs left empty mean "use the local fake"
(``codex-judge up`` starts one) or, for the language model, "use the offline judge".
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
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
    db_ssl: bool = Field(default=False, description="TLS to Postgres (CNPG in cluster)")

    # --- identity ---
    function_name: str = Field(default="codex-judge", description="the Knative Service name")
    event_source: str = Field(default="/codex-judge", description="CloudEvent source prefix")
    log_level: str = "INFO"
    otel_exporter: Literal["none", "console", "memory"] = Field(
        default="none", description="where OpenTelemetry spans go (memory: tests)"
    )

    # --- GitHub ---
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="comma-separated; several for rotation"
    )
    github_timeout_s: float = 10.0

    # --- language model (OpenAI-compatible) ---
    llm_base_url: str | None = Field(default=None, description="unset → offline judge")
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 60.0
    llm_max_attempts: int = Field(default=3, ge=1, le=10)

    # --- Discord ---
    discord_webhook_url: SecretStr | None = None
    discord_max_attempts: int = Field(default=3, ge=1, le=10)

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

    @field_validator(
        "github_webhook_secrets",
        "ai_reviewer_logins",
        "required_checks",
        "no_op_markers",
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
