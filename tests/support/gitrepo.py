"""Real git repositories built by tests from real commits, served over ``file://`` (issue 13:
the worktree snapshots run without network). Used by the snapshot tests and ``make bench``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["GitRepo", "history_path"]

_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "LC_ALL": "C",
}


def history_path(slot: int) -> str:
    """The path :meth:`GitRepo.fast_history` writes file ``slot`` at."""
    return f"history/{slot // 20:03d}/{slot}.txt"


class GitRepo:
    """A non-bare repository at ``path`` whose ``main`` branch is the base; its server side
    allows partial clones (``uploadpack.allowFilter``) and fetching commits by SHA."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "uploadpack.allowFilter", "true")
        self.git("config", "uploadpack.allowAnySHA1InWant", "true")

    @property
    def url(self) -> str:
        """The ``file://`` URL of the repository."""
        return self.path.as_uri()

    def git(self, *args: str, stdin: bytes | None = None) -> str:
        """Run ``git -C <path> args``; its stdout. Raises CalledProcessError on failure."""
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            input=stdin,
            capture_output=True,
            env=_ENV,
            check=True,
        )
        return done.stdout.decode()

    def commit(self, message: str, files: dict[str, str | None]) -> str:
        """Write (or, for None, delete) ``files`` and commit them; the new commit's SHA."""
        for name, text in files.items():
            target = self.path / name
            if text is None:
                self.git("rm", "--quiet", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self.git("add", name)
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def move(self, old: str, new: str) -> None:
        """``git mv old new`` (staged for the next :meth:`commit`)."""
        self.git("mv", old, new)

    def checkout(self, branch: str, *, create_from: str | None = None) -> None:
        """Switch to ``branch`` (created at ``create_from`` when given)."""
        if create_from is not None:
            self.git("checkout", "--quiet", "-B", branch, create_from)
        else:
            self.git("checkout", "--quiet", branch)

    def fast_history(self, commits: int, *, files: int = 1, line_bytes: int = 64) -> str:
        """Append ``commits`` commits to the current branch quickly (``git fast-import``, one
        process); commit ``i`` appends a line of about ``line_bytes`` to file ``i % files``,
        ``history/<slot // 20>/<slot>.txt`` (directories of 20 files, as real trees are nested:
        a commit rewrites two small trees, not one wide one). The new tip's SHA."""
        parent = self.git("rev-parse", "HEAD").strip()
        branch = self.git("symbolic-ref", "HEAD").strip()
        contents: dict[int, bytes] = {}
        chunks: list[bytes] = []
        for i in range(commits):
            slot = i % files
            contents[slot] = (
                contents.get(slot, b"") + f"{i:08d} ".encode() + b"x" * line_bytes + b"\n"
            )
            data = contents[slot]
            message = f"history {i}\n".encode()
            chunks.append(
                b"commit " + branch.encode() + b"\n"
                b"committer Test Author <author@example.com> 1767225600 +0000\n"
                b"data " + str(len(message)).encode() + b"\n" + message
                + (b"from " + parent.encode() + b"\n" if i == 0 else b"")
                + f"M 100644 inline {history_path(slot)}\n".encode()
                + b"data " + str(len(data)).encode() + b"\n" + data + b"\n"
            )  # fmt: skip
        self.git("fast-import", "--quiet", stdin=b"".join(chunks))
        self.git("reset", "--quiet", "--hard")
        return self.git("rev-parse", "HEAD").strip()
