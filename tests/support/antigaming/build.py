"""Adds real commits of a local git clone to the anti-gaming corpus
(``tests/fixtures/antigaming``).

For each commit: the files it changes plus the configuration beside them (CI workflows and the
build and test configuration named in ``CONTEXT``), read with ``git show`` at the commit's parent
(``base``) and at the commit (``head``); a path absent on a side is left out of that side.
Commits are picked as the README of the corpus says: the latest ones whose diff adds or
removes a test definition or an assertion (a changed line matches ``PATTERN``, a Python
regular expression), with at most ``MAX_LINES`` changed lines and ``MAX_FILES`` files,
merges left out.

Run: ``python -m tests.support.antigaming.build GIT_DIR OWNER/NAME LICENCE COUNT PATTERN``
(``PATTERN`` a regular expression for the language's test definitions and assertions).
"""

from __future__ import annotations

import json
import lzma
import re
import subprocess
import sys

from tests.support.antigaming import CORPUS

MAX_LINES = 600
MAX_FILES = 12
CONTEXT = (
    ".github/workflows/",
    ".gitlab-ci.yml",
    "Cargo.toml",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "settings.gradle",
    "Makefile",
    "package.json",
    "pyproject.toml",
    "go.mod",
)


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", git_dir, *args], check=True, capture_output=True, text=True
    ).stdout


def _read(git_dir: str, commit: str, path: str) -> str | None:
    done = subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"{commit}:{path}"], capture_output=True
    )
    if done.returncode != 0:
        return None
    try:
        return done.stdout.decode()
    except UnicodeDecodeError:
        return None


def _context(git_dir: str, commit: str) -> list[str]:
    paths = _git(git_dir, "ls-tree", "-r", "--name-only", commit).splitlines()
    return [
        p for p in paths if any(p == c or (c.endswith("/") and p.startswith(c)) for c in CONTEXT)
    ]


def candidates(git_dir: str, pattern: str, count: int) -> list[tuple[str, str, str]]:
    """(commit, parent, subject) of the latest ``count`` commits that fit (see the module
    docstring). Commits whose objects the clone lacks (a partial clone) are left out."""
    regex = re.compile(pattern)
    log = _git(git_dir, "log", "--no-merges", "--format=%H %P|%s", "-n", "1500")
    out: list[tuple[str, str, str]] = []
    for line in log.splitlines():
        shas, _, subject = line.partition("|")
        commit, *parents = shas.split()
        if len(parents) != 1:
            continue
        try:
            stat = _git(git_dir, "diff", "--numstat", parents[0], commit).splitlines()
            diff = _git(git_dir, "diff", "-U0", parents[0], commit)
        except subprocess.CalledProcessError:
            continue
        changed = sum(int(a) + int(d) for a, d, *_ in (s.split("\t") for s in stat) if a != "-")
        if not stat or len(stat) > MAX_FILES or changed > MAX_LINES:
            continue
        edits = [
            ln[1:] for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")
        ]
        if not any(regex.search(ln) for ln in edits):
            continue
        out.append((commit, parents[0], subject))
        if len(out) == count:
            break
    return out


def add(git_dir: str, repo: str, licence: str, count: int, pattern: str) -> list[str]:
    """Adds ``count`` commits of ``repo`` to the corpus (kind ``test-change``); returns their
    ids. Entries already present are kept as they are."""
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    cases = json.loads(lzma.decompress((CORPUS / "corpus.json.xz").read_bytes()))
    known = {e["id"] for e in manifest}
    added: list[str] = []
    for commit, parent, subject in candidates(git_dir, pattern, count):
        case_id = f"{repo.rsplit('/', 1)[-1]}-{commit[:10]}"
        if case_id in known:
            continue
        changed = _git(git_dir, "diff", "--name-only", parent, commit).splitlines()
        context = sorted(set(_context(git_dir, commit)) - set(changed))
        sides: dict[str, dict[str, str]] = {"base": {}, "head": {}}
        for side, sha in (("base", parent), ("head", commit)):
            for path in changed + context:
                text = _read(git_dir, sha, path)
                if text is not None:
                    sides[side][path] = text
        cases[case_id] = sides
        manifest.append(
            {
                "id": case_id,
                "repo": repo,
                "commit": commit,
                "parent": parent,
                "url": f"https://github.com/{repo}/commit/{commit}",
                "licence": licence,
                "kind": "test-change",
                "subject": subject,
                "changed": changed,
                "context": context,
            }
        )
        added.append(case_id)
    (CORPUS / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    data = json.dumps(cases, sort_keys=True).encode()
    (CORPUS / "corpus.json.xz").write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    return added


if __name__ == "__main__":
    git_dir, repo, licence, count, pattern = sys.argv[1:6]
    print("\n".join(add(git_dir, repo, licence, int(count), pattern)))
