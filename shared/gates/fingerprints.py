"""Failure fingerprints: what made an attempt fail, normalised so that the same wall hit twice
hashes the same (issue 4, "Failure fingerprints and reruns' inputs").

A fingerprint's parts are short, sorted strings:

* ``check:<name>`` for each failing check (CI summary ``failing``);
* ``error:<line>`` for each error line of the run's log excerpt, normalised: numbers, hex ids,
  SHAs, temp paths, timestamps and quoted values are replaced by placeholders, so the same
  failure on another commit or at another time still matches (at most 10 lines);
* ``gate:<code>`` for each finding code of a gate or the judge (``empty_diff``,
  ``conflict_markers``, ``llm_fail``, ``requirements_missing`` …) when no check failed.

The hash is SHA-256 (64 hex) over the parts joined by newlines. :func:`changes_since` describes
what changed between two attempts for the next prompt (the next prompt always names it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Fingerprint", "changes_since", "error_lines", "fingerprint", "normalise_line"]

_MAX_ERROR_LINES = 10
# Lines that report a failure in pytest, unittest, git, compilers and shells.
_ERROR = re.compile(
    r"(?i)\b(error|exception|traceback|failed|failure|fatal|assert(?:ion)?|panic)\b"
)
_NORMALISERS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<ts>",
    ),
    (re.compile(r"\b[0-9a-f]{7,40}\b"), "<sha>"),
    (re.compile(r"0x[0-9a-fA-F]+"), "<hex>"),
    (re.compile(r"(/tmp|/var/folders|/private/var)/[^\s:'\"]+"), "<tmp>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


@dataclass(frozen=True)
class Fingerprint:
    """A failure fingerprint: ``digest`` (64 hex, or None when nothing failed) and its parts."""

    digest: str | None
    parts: list[str]


def normalise_line(line: str) -> str:
    """One log line with volatile values replaced (see the module docstring), at most 200 chars."""
    out = line.strip()
    for pattern, placeholder in _NORMALISERS:
        out = pattern.sub(placeholder, out)
    return out.strip()[:200]


def error_lines(log_excerpt: str | None) -> list[str]:
    """The normalised, de-duplicated error lines of ``log_excerpt`` (first 10, in order)."""
    found: dict[str, None] = {}
    for line in (log_excerpt or "").splitlines():
        if _ERROR.search(line):
            found.setdefault(normalise_line(line))
        if len(found) >= _MAX_ERROR_LINES:
            break
    return list(found)


def fingerprint(
    *,
    decision: str,
    reason_codes: Iterable[str],
    ci_summary: Mapping[str, Any] | None,
    log_excerpt: str | None,
) -> Fingerprint:
    """The fingerprint of one decision.

    Args:
        decision: ``pass``, ``needs_iteration`` or ``needs_human``; a pass has no fingerprint.
        reason_codes: the verdict's reason codes.
        ci_summary: the run's CI summary (``failing``: failing check names), or None.
        log_excerpt: the run's log excerpt from the notify payload, or None.

    Returns:
        Failing checks + error lines when CI failed, else the reason codes + error lines.
    """
    if decision == "pass":
        return Fingerprint(None, [])
    failing = sorted({str(n) for n in (ci_summary or {}).get("failing") or []})
    parts = [f"check:{name}" for name in failing]
    if not parts:
        parts = sorted({f"gate:{code}" for code in reason_codes})
    parts += [f"error:{line}" for line in error_lines(log_excerpt)]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest() if parts else None
    return Fingerprint(digest, parts)


def _label(part: str) -> str:
    kind, _, value = part.partition(":")
    return {"check": "failing check", "gate": "finding", "error": "error"}.get(kind, kind) + (
        f" {value}"
    )


def changes_since(previous: Sequence[str], current: Sequence[str], previous_attempt: int) -> str:
    """A paragraph for the next prompt naming what changed since ``previous_attempt``.

    Args:
        previous: the previous attempt's fingerprint parts.
        current: this attempt's fingerprint parts.
        previous_attempt: the previous attempt's number (1-based).
    """
    before, now = set(previous), set(current)
    fixed = sorted(before - now)
    new = sorted(now - before)
    still = sorted(before & now)
    lines = [f"Since attempt {previous_attempt}:"]
    if not fixed and not new:
        lines.append("- nothing changed: the same failure happened again.")
    lines += [f"- fixed: {_label(p)}" for p in fixed]
    lines += [f"- new: {_label(p)}" for p in new]
    lines += [f"- still failing: {_label(p)}" for p in still]
    return "\n".join(lines)
