"""Worktree snapshots with git itself (issue 13; DESIGN §12 item 6): a partial clone per
repository, a detached worktree at the head SHA, and the merge-base diff.

Per repository one bare partial clone is kept under ``<root>/repos/<owner>/<name>.git``
(``--filter=blob:none``: commits and trees only; blobs arrive lazily from the promisor remote
when the worktree is checked out or a diff needs them). Each snapshot fetches the base branch
and the head SHA into it, adds ``<root>/worktrees/<owner>/<name>/pr<N>-<head[:12]>`` with
``git worktree add --detach``, computes ``git merge-base`` of the base branch's tip and the head,
and reads ``git diff --name-status -z -M`` and the patch from that merge base (three-dot
semantics: never the base branch's own later changes).

Credentials: the GitHub App installation token (or the configured token) is handed to git as
an ``http.extraHeader`` through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``
environment variables — never in the URL, the command line, a config file or a log line
(GitHub's Git over HTTPS accepts ``Authorization: Basic base64("x-access-token:<token>")``, the
form actions/checkout sends). User and system git config are ignored, prompts disabled.

Limits: every git command gets what is left of ``timeout_s`` for the whole snapshot; the clone
and worktree together may use ``max_bytes``, measured while the fetch and the checkout run
(the command is killed when they pass it). Concurrent snapshots of one repository (several
workers) are serialised by an ``flock`` on ``<name>.lock``.

Errors: :class:`SnapshotError` for every failure (git missing, clone refused, time or size
exceeded, unrelated histories); its message never holds the token.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.adapters.github_auth import GitHubAppAuth
from shared.github.diffs import PINNED_CONFIG
from shared.github.snapshots import Snapshot, SnapshotError, parse_name_status
from shared.settings import Settings

__all__ = ["GitWorktrees"]

_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.][A-Za-z0-9_.-]*$")
# A user's config must not change what the parsers read, nor the clone's upkeep.
_PINNED = (
    *PINNED_CONFIG,
    "-c",
    "diff.renames=true",
    "-c",
    "gc.auto=0",
)
_DETAIL_CHARS = 300
#: Seconds between size checks of a running fetch/checkout (and lock polls).
_WATCH_S = 0.2


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


class GitWorktrees:
    """Makes snapshots under ``root`` (see the module docstring).

    Args:
        root: the ephemeral directory (created when missing).
        clone_url: ``{repo}`` template of the clone URL (no credentials).
        token: returns the token to authenticate with, or None (public or local repositories).
        timeout_s: seconds for one whole snapshot.
        max_bytes: bytes the repository's clone plus its worktrees may use.
        keep: worktrees kept per repository; older ones are removed after each snapshot.
    """

    def __init__(
        self,
        root: Path,
        *,
        clone_url: str = "https://github.com/{repo}.git",
        token: Callable[[], str | None] = lambda: None,
        timeout_s: float = 120.0,
        max_bytes: int = 1024 * 1024 * 1024,
        keep: int = 4,
    ) -> None:
        self.root, self.clone_url, self._token = root, clone_url, token
        self.timeout_s, self.max_bytes, self.keep = timeout_s, max_bytes, keep

    @classmethod
    def from_settings(cls, settings: Settings) -> GitWorktrees:
        """Build from ``worktree_*``; the token is the GitHub App installation token when the
        App is configured (minted and refreshed by
        :class:`~shared.adapters.github_auth.GitHubAppAuth`), else ``github_token``.

        Raises:
            ValueError: ``worktree_dir`` is not set.
        """
        if settings.worktree_dir is None:
            raise ValueError("worktree_dir is not set")
        token: Callable[[], str | None] = lambda: None  # noqa: E731
        app = GitHubAppAuth.from_settings(settings)
        if app is not None:
            token = app.token
        elif settings.github_token is not None:
            secret = settings.github_token
            token = secret.get_secret_value
        return cls(
            settings.worktree_dir,
            clone_url=settings.worktree_clone_url,
            token=token,
            timeout_s=settings.worktree_timeout_s,
            max_bytes=settings.worktree_max_bytes,
            keep=settings.worktree_keep,
        )

    def snapshot(self, repo: str, number: int, base_ref: str, head_sha: str) -> Snapshot:
        """Snapshot PR ``number`` of ``repo`` (``owner/name``) at ``head_sha`` (40 hex) against
        branch ``base_ref``; an existing worktree at the same head is reused.

        Raises:
            SnapshotError: see the module docstring.
        """
        if not _REPO.match(repo) or ".." in repo:
            raise SnapshotError(f"repository {repo!r} is not owner/name")
        if not _SHA.match(head_sha):
            raise SnapshotError(f"head SHA {head_sha!r} is not 40 lowercase hex")
        if not base_ref or base_ref.startswith("-"):
            raise SnapshotError(f"base ref {base_ref!r} is not a branch name")
        started = time.monotonic()
        deadline = started + self.timeout_s
        bare = self.root / "repos" / f"{repo}.git"
        env = self._env()
        with self._locked(bare.with_suffix(".lock"), deadline):
            self._run(["check-ref-format", "--branch", base_ref], None, env, deadline)
            if not (bare / "HEAD").exists():
                self._init(bare, repo, env, deadline)
            tracking = f"refs/remotes/origin/{base_ref}"
            self._run(
                [
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--filter=blob:none",
                    "origin",
                    f"+refs/heads/{base_ref}:{tracking}",
                    head_sha,
                ],
                bare,
                env,
                deadline,
                watch=repo,
            )
            base_sha = self._out(
                ["rev-parse", "--verify", f"{tracking}^{{commit}}"], bare, env, deadline
            ).strip()
            merge_base = self._out(["merge-base", tracking, head_sha], bare, env, deadline).strip()
            if not _SHA.match(merge_base):
                raise SnapshotError(f"no merge base between {base_ref} and {head_sha}")
            name = f"pr{number}-{head_sha[:12]}"
            path = self.root / "worktrees" / repo / name
            self._worktree(bare, path, head_sha, env, deadline, repo)
            raw = self._run(
                ["diff", "--name-status", "-z", "-M", merge_base, head_sha], bare, env, deadline
            )
            files = parse_name_status(raw)
            patch = self._out(
                ["diff", "--no-color", "--no-ext-diff", "-M", merge_base, head_sha],
                bare,
                env,
                deadline,
            )
            self._prune(bare, path.parent, env, deadline)
        return Snapshot(
            name,
            path,
            base_sha,
            merge_base,
            head_sha,
            tuple(files),
            patch,
            time.monotonic() - started,
        )

    # --- steps ---

    def _init(self, bare: Path, repo: str, env: dict[str, str], deadline: float) -> None:
        bare.parent.mkdir(parents=True, exist_ok=True)
        self._run(["init", "--quiet", "--bare", str(bare)], None, env, deadline)
        for key, value in (
            ("core.repositoryformatversion", "1"),
            ("extensions.partialClone", "origin"),
            ("remote.origin.url", self.clone_url.format(repo=repo)),
            ("remote.origin.promisor", "true"),
            ("remote.origin.partialclonefilter", "blob:none"),
        ):
            self._run(["config", key, value], bare, env, deadline)

    def _worktree(
        self, bare: Path, path: Path, head_sha: str, env: dict[str, str], deadline: float, repo: str
    ) -> None:
        if path.exists():
            current = self._run(["rev-parse", "HEAD"], path, env, deadline, check=False)
            if current.decode().strip() == head_sha:
                return
            self._run(
                ["worktree", "remove", "--force", str(path)], bare, env, deadline, check=False
            )
            shutil.rmtree(path, ignore_errors=True)
            self._run(["worktree", "prune"], bare, env, deadline)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run(
            ["worktree", "add", "--quiet", "--detach", str(path), head_sha],
            bare,
            env,
            deadline,
            watch=repo,
        )

    def _prune(self, bare: Path, folder: Path, env: dict[str, str], deadline: float) -> None:
        trees = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for old in trees[: max(0, len(trees) - self.keep)]:
            self._run(["worktree", "remove", "--force", str(old)], bare, env, deadline, check=False)
            shutil.rmtree(old, ignore_errors=True)
        self._run(["worktree", "prune"], bare, env, deadline, check=False)

    def _over_size(self, repo: str) -> str | None:
        used = _size(self.root / "repos" / f"{repo}.git") + _size(self.root / "worktrees" / repo)
        if used > self.max_bytes:
            return f"clone of {repo} uses {used} bytes, over {self.max_bytes}"
        return None

    # --- plumbing ---

    def _env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
        }
        token = self._token()
        if token:
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            env |= {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
        return env

    def _run(
        self,
        args: list[str],
        cwd: Path | None,
        env: dict[str, str],
        deadline: float,
        *,
        check: bool = True,
        watch: str | None = None,
    ) -> bytes:
        """Run one git command within ``deadline``; with ``watch`` (a repository), its clone
        and worktrees are measured every :data:`_WATCH_S` while it runs and the command is
        killed as soon as they pass ``max_bytes`` (so a large fetch stops before the volume
        fills); its stdout is then not kept."""
        if deadline - time.monotonic() <= 0:
            raise SnapshotError(f"git {args[0]}: over the {self.timeout_s:g} s snapshot limit")
        where = ["-C", str(cwd)] if cwd is not None else []
        command = ["git", *where, "--no-pager", *_PINNED, *args]
        try:
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)
                failure = self._wait(proc, args[0], deadline, watch)
                if failure is not None:
                    raise SnapshotError(failure)
                out.seek(0)
                err.seek(0)
                stdout, stderr = out.read(), err.read()
        except OSError as exc:
            raise SnapshotError(f"git could not run: {exc.strerror}") from exc
        if check and proc.returncode != 0:
            detail = stderr.decode("utf-8", "replace").strip()[-_DETAIL_CHARS:]
            raise SnapshotError(f"git {args[0]} failed ({proc.returncode}): {detail}")
        return stdout

    def _wait(
        self, proc: subprocess.Popen[bytes], step: str, deadline: float, watch: str | None
    ) -> str | None:
        """Wait for ``proc``; kill it and return why when the time or size limit is passed."""
        while True:
            left = deadline - time.monotonic()
            try:
                proc.wait(timeout=max(0.0, min(left, _WATCH_S if watch else left)))
                failure = self._over_size(watch) if watch else None
            except subprocess.TimeoutExpired:
                failure = self._over_size(watch) if watch else None
                if failure is None and deadline - time.monotonic() > 0:
                    continue
                failure = failure or f"git {step}: over the {self.timeout_s:g} s snapshot limit"
            if failure is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            return failure

    def _out(self, args: list[str], cwd: Path, env: dict[str, str], deadline: float) -> str:
        return self._run(args, cwd, env, deadline).decode("utf-8", "surrogateescape")

    @contextmanager
    def _locked(self, lock: Path, deadline: float) -> Iterator[None]:
        """Hold ``lock`` (another worker may be snapshotting the same repository), waiting
        no longer than ``deadline``."""
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SnapshotError(
                            f"another snapshot of {lock.stem} held it past the"
                            f" {self.timeout_s:g} s limit"
                        ) from None
                    time.sleep(_WATCH_S)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
