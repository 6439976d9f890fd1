"""Settings of the run artifacts' downloads (issue 13): where they are read from, and how much
of them; part of :class:`shared.settings.Settings` (``CODEX_JUDGE_ARTIFACT_*``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode


class ArtifactSettings(BaseSettings):
    """The ``artifact_*`` fields (read through :class:`shared.settings.Settings`)."""

    artifact_stores: Annotated[list[Literal["s3", "argo-server"]], NoDecode] = Field(
        default_factory=list,
        description="stores to read run artifacts from, tried in order (comma-separated:"
        " s3, argo-server); empty → artifacts are recorded but never downloaded",
    )
    artifact_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="bytes kept per artifact; more → truncated"
    )
    artifact_timeout_s: float = Field(default=30.0, gt=0, description="per-request seconds")
    artifact_fetch_budget_s: float = Field(
        default=20.0,
        gt=0,
        description="seconds one pass (run-complete, then each judge pass) may spend reading"
        " artifacts; the rest wait for the next pass",
    )
    artifact_max_attempts: int = Field(
        default=3, ge=1, le=10, description="tries per artifact read (5xx, timeouts)"
    )
    artifact_s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint as this process reaches it (e.g. http://minio.argo:9000);"
        " wins over the artifact's own endpoint; unset and none recorded → AWS",
    )
    artifact_s3_insecure: bool = Field(
        default=False, description="reach a recorded scheme-less endpoint over http, not https"
    )
    artifact_s3_region: str = Field(default="us-east-1", description="S3 signing region")
    artifact_s3_bucket: str | None = Field(
        default=None, description="bucket of the artifact repository when a run records none"
    )
    artifact_s3_key_format: str | None = Field(
        default=None,
        description="the artifact repository's keyFormat (Argo's default"
        " {{workflow.name}}/{{pod.name}} when unset)",
    )
    artifact_s3_access_key_id: SecretStr | None = Field(
        default=None, description="unset → boto3's chain (AWS_* environment, IRSA, profile)"
    )
    artifact_s3_secret_access_key: SecretStr | None = None
    artifact_unpack_max_members: int = Field(
        default=2000, ge=1, description="tar members read per archive; more → a finding"
    )
    artifact_unpack_max_member_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1, description="bytes per tar member; more → a finding"
    )
    artifact_unpack_max_total_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1, description="decompressed bytes per artifact"
    )
