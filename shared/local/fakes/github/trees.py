"""FakeGitHub's git data reads (REST "Git trees", "Git blobs"): the files of commits, seeded as
``state["trees"]`` = ``{"owner/repo@<commit sha>": {"<path>": "<text>"}}``.

``GET /repos/{owner}/{repo}/git/trees/{sha}?recursive=1`` answers every path of the commit
(with ``recursive`` also the directories, as ``type: tree`` entries) and each file's blob SHA,
computed as git does (SHA-1 of ``blob <size>\\0<bytes>``), so the same text in two commits is
one blob; without ``recursive`` only the top level. ``GET /repos/{owner}/{repo}/git/blobs/{sha}``
answers the blob's content base64-encoded with lines of 60 characters, as GitHub does. An
unknown commit or blob answers 404 ``Not Found``.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

import flask

from shared.local.fakes.base import FakeStore, json_answer
from shared.local.fakes.github.wire import not_found, spend


def blob_sha(data: bytes) -> str:
    """Git's object name of a blob holding ``data`` (40 hex)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@lru_cache(maxsize=8192)
def _text_sha(text: str) -> str:
    # Every blob read scans the repository's commits: hash each text once.
    return blob_sha(text.encode())


def _tree_answer(
    base_url: str, repository: str, sha: str, files: dict[str, str]
) -> dict[str, object]:
    recursive = flask.request.args.get("recursive") not in (None, "", "0", "false")
    entries: dict[str, dict[str, object]] = {}
    for path, text in sorted(files.items()):
        parts = path.split("/")
        if not recursive and len(parts) > 1:
            top = parts[0]
            entries[top] = {
                "path": top,
                "mode": "040000",
                "type": "tree",
                "sha": blob_sha(top.encode()),
            }
            continue
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            entries.setdefault(
                folder,
                {
                    "path": folder,
                    "mode": "040000",
                    "type": "tree",
                    "sha": blob_sha(folder.encode()),
                },
            )
        data = text.encode()
        name = _text_sha(text)
        entries[path] = {
            "path": path,
            "mode": "100644",
            "type": "blob",
            "sha": name,
            "size": len(data),
            "url": f"{base_url}/repos/{repository}/git/blobs/{name}",
        }
    for entry in entries.values():
        if entry["type"] == "tree":
            entry["url"] = f"{base_url}/repos/{repository}/git/trees/{entry['sha']}"
    return {
        "sha": sha,
        "url": f"{base_url}/repos/{repository}/git/trees/{sha}",
        "tree": [entries[p] for p in sorted(entries)],
        "truncated": False,
    }


def install_tree_routes(app: flask.Flask, store: FakeStore) -> None:
    """The two git data reads above, over ``store.state["trees"]``."""

    @app.get("/repos/<owner>/<repo>/git/trees/<sha>")
    def get_tree(owner: str, repo: str, sha: str) -> flask.Response:
        refused, headers = spend(store, "core")
        if refused is not None:
            return refused
        repository = f"{owner}/{repo}"
        with store.lock:
            files = store.state.setdefault("trees", {}).get(f"{repository}@{sha}")
            files = dict(files) if files is not None else None
        if files is None:
            return not_found(headers)
        base_url = flask.request.host_url.rstrip("/")
        return json_answer(200, _tree_answer(base_url, repository, sha, files), headers)

    @app.get("/repos/<owner>/<repo>/git/blobs/<sha>")
    def get_blob(owner: str, repo: str, sha: str) -> flask.Response:
        refused, headers = spend(store, "core")
        if refused is not None:
            return refused
        prefix = f"{owner}/{repo}@"
        data: bytes | None = None
        with store.lock:
            for key, files in store.state.setdefault("trees", {}).items():
                if key.startswith(prefix):
                    found = next((t for t in files.values() if _text_sha(t) == sha), None)
                    data = found.encode() if found is not None else None
                    if data is not None:
                        break
        if data is None:
            return not_found(headers)
        encoded = base64.b64encode(data).decode()
        wrapped = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
        body = {
            "sha": sha,
            "node_id": "B_" + sha[:20],
            "size": len(data),
            "url": f"{flask.request.host_url.rstrip('/')}/repos/{owner}/{repo}/git/blobs/{sha}",
            "content": wrapped + "\n" if wrapped else "",
            "encoding": "base64",
        }
        return json_answer(200, body, headers)
