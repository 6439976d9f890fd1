"""The run's notify payload as the judge reads it, with the run's own evidence folded in.

:func:`shared.artifacts.fetch.fetch_run_artifacts` merges ``manifest`` and
``artifact_log_excerpt`` into ``notify_payload``. The judge's readers (the deterministic
patch-apply gate, the LLM prompt, the repeat fingerprint) read ``log_excerpt`` and ``prompt``;
this view appends the labelled artifact excerpts to ``log_excerpt`` (notify's own text first)
and takes ``prompt`` from the manifest when notify sent none, so every reader sees the real logs
without knowing where they came from — the labels say it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def judge_view(notify_payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """``notify_payload`` with artifact evidence folded in (module docstring); a new dict."""
    view = dict(notify_payload or {})
    from_artifacts = view.get("artifact_log_excerpt")
    if isinstance(from_artifacts, str) and from_artifacts:
        own = view.get("log_excerpt")
        view["log_excerpt"] = (
            f"{own}\n\n{from_artifacts}" if isinstance(own, str) and own else (from_artifacts)
        )
    manifest = view.get("manifest")
    if not view.get("prompt") and isinstance(manifest, Mapping) and manifest.get("prompt"):
        view["prompt"] = manifest["prompt"]
    return view
