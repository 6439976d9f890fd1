"""What the Argo CD API answers about an Application, reduced to what decides a deploy
(Argo CD API reference, ``/api/v1/applications``; DESIGN §7).

An Application's ``status.sync.status`` (``Synced``/``OutOfSync``/``Unknown``),
``status.sync.revision`` (the Git SHA in the cluster), ``status.health.status``
(``Healthy``/``Progressing``/``Degraded``/``Suspended``/``Missing``/``Unknown``),
``status.operationState.phase`` (``Running``/``Succeeded``/``Failed``/``Error``/``Terminating``)
and ``status.history`` (``[{id, revision, deployedAt}]``, oldest first).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ApplicationState", "HistoryEntry"]


class HistoryEntry(BaseModel):
    """One ``status.history`` item: a revision that was deployed."""

    model_config = ConfigDict(frozen=True)

    id: int
    revision: str | None = None


class ApplicationState(BaseModel):
    """The parts of an Application's ``status`` that decide a deploy (see module docstring)."""

    model_config = ConfigDict(frozen=True)

    name: str
    sync_status: str | None = None
    revision: str | None = Field(default=None, description="status.sync.revision (Git SHA)")
    health_status: str | None = None
    operation_phase: str | None = None
    operation_message: str | None = None
    operation_revision: str | None = Field(
        default=None, description="status.operationState.operation.sync.revision (Git SHA)"
    )
    history: list[HistoryEntry] = Field(default_factory=list)

    @classmethod
    def from_application(cls, name: str, app: dict[str, Any]) -> ApplicationState:
        """Read an Application object as Argo CD answers it."""
        status = app.get("status")
        if not isinstance(status, dict):
            status = {}
        sync = status.get("sync") or {}
        health = status.get("health") or {}
        operation = status.get("operationState") or {}
        history = [
            HistoryEntry(id=int(item["id"]), revision=item.get("revision"))
            for item in status.get("history") or []
            if isinstance(item, dict) and item.get("id") is not None
        ]
        return cls(
            name=name,
            sync_status=sync.get("status"),
            revision=sync.get("revision"),
            health_status=health.get("status"),
            operation_phase=operation.get("phase"),
            operation_message=operation.get("message"),
            operation_revision=((operation.get("operation") or {}).get("sync") or {}).get(
                "revision"
            ),
            history=history,
        )
