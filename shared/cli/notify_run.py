"""``codex-judge notify-run``: what the Argo step that wraps Codex runs when Codex has finished
(issue 13, "the producing side"). It builds the enrichment payload from the run's own files
(:mod:`shared.agents.enrichment`), writes it to ``--out`` (for upload as an artifact, before any
network), and POSTs it to notify with bounded retry and backoff
(:mod:`shared.adapters.notify_client`).

It always exits 0: a notify that is down, a missing file or a refused payload is printed to
stderr as one JSON line (``{"notify_run": …}``) and never fails or blocks the workflow; the
judge reads the same facts from the artifacts later. Only bad command-line usage exits 2
(argparse's own rule).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_notify_run_parser", "cmd_notify_run"]

_IDENTITY = (
    "workflow_name",
    "namespace",
    "repository",
    "head_sha",
    "head_ref",
    "base_ref",
    "pr_url",
)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def cmd_notify_run(args: argparse.Namespace) -> int:
    """Build, write and post the payload (see the module docstring); returns 0."""
    from shared.adapters.notify_client import post_notify
    from shared.agents.enrichment import RunFiles, build_payload

    identity: dict[str, Any] = {name: getattr(args, name) for name in _IDENTITY}
    identity["issue_number"] = args.issue_number
    identity["pr_number"] = args.pr_number
    files = RunFiles(
        workflow_uid=args.workflow_uid,
        identity=identity,
        events=args.events,
        logs=tuple(args.log or ()),
        status=args.status,
        prompt=args.prompt,
        last_message=args.last_message,
    )
    payload = build_payload(files)
    report: dict[str, Any] = {"workflow_uid": args.workflow_uid}
    if args.out is not None:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(payload, ensure_ascii=False))
            report["written"] = str(args.out)
        except OSError as exc:
            report["write_error"] = f"{args.out}: {exc.strerror or exc}"
    if args.url:
        delivery = post_notify(
            args.url,
            payload,
            attempts=args.attempts,
            timeout_s=args.timeout,
            deadline_s=args.deadline,
        )
        report |= {
            "delivered": delivery.delivered,
            "attempts": delivery.attempts,
            "status": delivery.status,
            "detail": delivery.detail,
        }
    if payload.get("notify_run_errors"):
        report["file_errors"] = payload["notify_run_errors"]
    print(json.dumps({"notify_run": report}), file=sys.stderr)
    return 0


def add_notify_run_parser(sub: Any) -> None:
    """Register ``notify-run`` on the ``codex-judge`` sub-command parser."""
    parser = sub.add_parser(
        "notify-run",
        help="build the run's enrichment payload from its files, write it, post it to notify"
        " (never fails the workflow)",
    )
    parser.add_argument("--url", help="notify's URL; unset → only --out is written")
    parser.add_argument("--workflow-uid", required=True, help="{{workflow.uid}}")
    for name in _IDENTITY:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name)
    parser.add_argument("--issue-number", type=_positive)
    parser.add_argument("--pr-number", type=_positive)
    parser.add_argument("--events", type=Path, help="codex exec --json output (JSONL)")
    parser.add_argument("--log", type=Path, action="append", help="a log file (repeatable)")
    parser.add_argument("--status", type=Path, help="the run's status file (JSON)")
    parser.add_argument("--prompt", type=Path, help="the prompt Codex was given")
    parser.add_argument("--last-message", type=Path, help="codex --output-last-message file")
    parser.add_argument("--out", type=Path, help="where to write the payload (an artifact)")
    parser.add_argument("--attempts", type=_positive, default=4, help="POST tries at most")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per try")
    parser.add_argument(
        "--deadline", type=float, default=60.0, help="seconds after which no retry starts"
    )
    parser.set_defaults(fn=cmd_notify_run)
