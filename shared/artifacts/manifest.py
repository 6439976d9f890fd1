"""``metadata/manifest.json``: what the Codex step says it did, inside the changes archive.

The changes archive (``.codex-implementation-changes.tar.gz``, an output artifact of the
implementation step) is a gzip tar whose ``metadata/manifest.json`` is this project's own
format, version 1::

    {
      "version": 1,                       // optional; 1 when absent
      "prompt": "Implement issue 42 ...", // the prompt Codex was given
      "session": "0199a213-81c0-...",     // the Codex session (thread) id
      "commit": "<40 hex>",               // the commit the step produced (the head SHA)
      "base": "<40 hex>",                 // optional: the commit it started from
      "files": [                          // the paths the commit changed
        {"path": "src/app.py", "status": "M"},   // git's --name-status letter (A, M, D, R...)
        "docs/notes.md"                          // or just the path
      ]
    }

Unknown keys are ignored (a newer writer may add some); a manifest that is not JSON, not an
object, or whose known fields have the wrong type is a recorded problem
(:class:`ManifestError`), never a crash. The parsed manifest is merged into the run the way the
notify enrichment is (under ``notify_payload.manifest``), so the judge reads the prompt and
session even when notify was never posted.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: Where the manifest sits inside the changes archive.
MANIFEST_PATH = "metadata/manifest.json"
#: The changes archive's file name, as the implementation step writes it.
CHANGES_ARCHIVE = ".codex-implementation-changes.tar.gz"
_MAX_PROMPT_CHARS = 64 * 1024
_MAX_FILES = 5000


class ManifestError(ValueError):
    """The manifest could not be read; the message names the field and what was expected."""


class ManifestFile(BaseModel):
    """One changed path: ``path`` (POSIX, relative) and git's ``--name-status`` letter."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    path: str = Field(min_length=1, max_length=4096)
    status: str | None = Field(default=None, max_length=8)


class ChangesManifest(BaseModel):
    """The parsed ``metadata/manifest.json`` (module docstring for the format)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int = 1
    prompt: str | None = Field(default=None, max_length=_MAX_PROMPT_CHARS)
    session: str | None = Field(default=None, max_length=200)
    commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{7,64}$")
    base: str | None = Field(default=None, pattern=r"^[0-9a-f]{7,64}$")
    files: tuple[ManifestFile, ...] = Field(default=(), max_length=_MAX_FILES)

    @field_validator("files", mode="before")
    @classmethod
    def _paths_or_objects(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"path": item} if isinstance(item, str) else item for item in value]
        return value

    def enrichment(self) -> dict[str, Any]:
        """The notify-style payload this manifest adds to its run: ``{"manifest": {...}}``
        (files as ``{"path", "status"}`` objects)."""
        return {"manifest": self.model_dump(mode="json")}


def parse_manifest(content: bytes) -> ChangesManifest:
    """Parse a manifest's bytes (UTF-8 JSON object).

    Raises:
        ManifestError: not UTF-8 JSON, not an object, or a field of the wrong shape; the
            message names the field (``manifest.files[3].path``) and what was expected.
    """
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{MANIFEST_PATH}: not UTF-8 JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise ManifestError(
            f"{MANIFEST_PATH}: expected a JSON object, got {type(document).__name__}"
        )
    try:
        return ChangesManifest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
        )
        raise ManifestError(f"manifest{where}: {first['msg']}") from exc
