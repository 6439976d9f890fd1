"""The fake GitHub's ``application/vnd.github.diff`` answer for ``GET /repos/{o}/{r}/pulls/{n}``.

GitHub REST "Pulls" → "Get a pull request": with ``Accept: application/vnd.github.diff`` the
answer is the PR's unified diff as ``text/plain`` (``diff --git a/x b/x`` per file). The fake
answers ``state["pull_diffs"]["owner/repo#n"]`` when seeded, else builds the diff from the
seeded ``pull_files`` (their ``patch`` hunks), so a test seeds the files once.
"""

from __future__ import annotations

from typing import Any

import flask

DIFF_MEDIA_TYPE = "application/vnd.github.diff"


def wants_diff(request: flask.Request) -> bool:
    """Whether the request asks for the diff media type."""
    return DIFF_MEDIA_TYPE in request.headers.get("Accept", "")


def _file_diff(item: dict[str, Any]) -> str:
    name = str(item.get("filename", ""))
    old = str(item.get("previous_filename") or name)
    status = item.get("status")
    lines = [f"diff --git a/{old} b/{name}"]
    if status == "added":
        lines += ["new file mode 100644", "--- /dev/null", f"+++ b/{name}"]
    elif status == "removed":
        lines += ["deleted file mode 100644", f"--- a/{old}", "+++ /dev/null"]
    else:
        if status == "renamed":
            lines += [f"rename from {old}", f"rename to {name}"]
        lines += [f"--- a/{old}", f"+++ b/{name}"]
    patch = item.get("patch")
    if patch:
        lines.append(str(patch).rstrip("\n"))
    return "\n".join(lines) + "\n"


def diff_answer(state: dict[str, Any], key: str, headers: dict[str, str]) -> flask.Response:
    """The diff of PR ``key`` (``owner/repo#n``) as GitHub sends it (200 ``text/plain``)."""
    text = state.get("pull_diffs", {}).get(key)
    if text is None:
        text = "".join(_file_diff(item) for item in state.get("pull_files", {}).get(key) or [])
    return flask.Response(
        text, status=200, headers=headers, content_type="text/plain; charset=utf-8"
    )
