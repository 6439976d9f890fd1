"""The container command's settings: functions-framework's variables and Knative's ``PORT``
(DESIGN §8, §14)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    """What ``codex-judge serve`` (the container's command) needs to serve one function.

    The variable names are functions-framework's own (its CLI reads the same ones) plus the
    ``PORT`` Knative Serving sets (runtime contract: 8080). ``WORKERS`` and ``THREADS`` are
    not fields: gunicorn, started by functions-framework, reads them itself.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    function_source: str | None = Field(
        default=None,
        validation_alias="FUNCTION_SOURCE",
        description="the function's main.py: absolute, or relative to the installed package"
        " root (the directory holding the `functions` package), e.g. functions/judge/main.py",
    )
    function_target: str = Field(
        default="handle",
        validation_alias="FUNCTION_TARGET",
        description="the callable in function_source to serve",
    )
    function_signature_type: Literal["http", "event", "cloudevent", "typed"] = Field(
        default="http",
        validation_alias="FUNCTION_SIGNATURE_TYPE",
        description="functions-framework's signature type; ours are all http",
    )
    host: str = Field(
        default="0.0.0.0",
        validation_alias="HOST",
        description="address to bind; the local mesh uses 127.0.0.1",
    )
    port: int = Field(
        default=8080,
        ge=1,
        le=65535,
        validation_alias="PORT",
        description="TCP port to bind (Knative Serving sets PORT)",
    )
