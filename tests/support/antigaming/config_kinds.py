"""Gaming edits of CI workflows (PyYAML), tool configuration and non-test source."""

from __future__ import annotations

import json
from collections.abc import Callable

import yaml

from shared.gates.inventory import is_test_path
from tests.support.antigaming import Files, Mutation

# --- CI workflows, tool configuration, source --------------------------------------------------

_TEST_WORDS = (
    "pytest",
    "tox",
    "nox",
    "go test",
    "npm test",
    "npm run test",
    "make test",
    "jest",
    "mocha",
    "vitest",
    "yarn test",
    "pnpm test",
    "npm t",
    "ava",
)


def _workflow_edit(
    edit: Callable[[dict[object, object], dict[str, object], str], bool],
) -> Mutation:
    """Applies ``edit(workflow, job, step index)`` to the first step that runs the tests."""

    def mutate(base: Files, head: Files) -> Files | None:
        for file in sorted(head):
            if not file.startswith(".github/workflows/"):
                continue
            doc = yaml.safe_load(head[file])
            if not isinstance(doc, dict):
                continue
            for job in (doc.get("jobs") or {}).values():
                for index, step in enumerate(job.get("steps") or []):
                    run = str(step.get("run") or "")
                    if any(w in run for w in _TEST_WORDS) and edit(doc, job, str(index)):
                        return {**head, file: yaml.safe_dump(doc, sort_keys=False)}
        return None

    return mutate


def _step(change: Callable[[dict[str, object]], None]) -> Mutation:
    def edit(doc: dict[object, object], job: dict[str, object], index: str) -> bool:
        change(job["steps"][int(index)])  # type: ignore[index]
        return True

    return _workflow_edit(edit)


def _run(transform: Callable[[str], str]) -> Mutation:
    def change(step: dict[str, object]) -> None:
        step["run"] = transform(str(step["run"]).rstrip("\n"))

    return _step(change)


def _triggers(change: Callable[[dict[str, object]], bool]) -> Mutation:
    def edit(doc: dict[object, object], job: dict[str, object], index: str) -> bool:
        key = "on" if "on" in doc else True
        on = doc.get(key)
        if isinstance(on, list):
            on = {e: None for e in on}
        if not isinstance(on, dict) or "pull_request" not in on:
            return False
        ok = change(on)  # type: ignore[arg-type]
        doc[key] = on
        return ok

    return _workflow_edit(edit)


def _drop_pr(on: dict[str, object]) -> bool:
    on.pop("pull_request")
    return True


def _paths_ignore(on: dict[str, object]) -> bool:
    spec = on.get("pull_request") or {}
    if not isinstance(spec, dict):
        return False
    on["pull_request"] = {**spec, "paths-ignore": ["**/*.py", "**/*.js", "**/*.ts", "**/*.go"]}
    return True


def _collect_only(command: str) -> str:
    for word, flag in (
        ("pytest", "--collect-only"),
        ("go test", "-list ."),
        ("jest", "--listTests"),
        ("cargo test", "--no-run"),
        ("mvn ", "-DskipTests "),
    ):
        if word in command:
            return command.replace(word, f"{word} {flag}", 1)
    return (
        command.replace("tox", "tox --collect-only", 1)
        if "tox" in command
        else command + " --collect-only"
    )


def _source(edit: Callable[[str, str, str], str | None]) -> Mutation:
    """Applies ``edit(path, head text, base text)`` to the first non-test source file of the
    change."""

    def mutate(base: Files, head: Files) -> Files | None:
        for file in sorted(head):
            if is_test_path(file) or not file.endswith((".py", ".js", ".ts", ".go")):
                continue
            if base.get(file) is None:
                continue
            text = edit(file, head[file], base[file])
            if text is not None:
                return {**head, file: text}
        return None

    return mutate


def _tell(file: str, text: str, base: str) -> str:
    if file.endswith(".py"):
        return text + '\n\ndef _under_test():\n    return "PYTEST_CURRENT_TEST" in os.environ\n'
    if file.endswith(".go"):
        return text + "\nfunc underTest() bool { return testing.Testing() }\n"
    return text + "\nfunction underTest () { return process.env.JEST_WORKER_ID !== undefined }\n"


def _file_level(file: str, text: str, base: str) -> str:
    if file.endswith(".py"):
        return "# ruff: noqa\n" + text
    if file.endswith(".go"):
        return None  # type: ignore[return-value]
    return "/* eslint-disable */\n" + text


def _pragma(file: str, text: str, base: str) -> str | None:
    """``# pragma: no cover`` on a ``return`` the base already had (code measured before)."""
    if not file.endswith(".py"):
        return None
    lines = text.splitlines()
    existing = {ln.strip() for ln in base.splitlines()}
    for index, line in enumerate(lines):
        if line.lstrip().startswith("return ") and "#" not in line and line.strip() in existing:
            lines[index] = line + "  # pragma: no cover"
            return "\n".join(lines) + "\n"
    return None


def _pyproject(edit: Callable[[str], str | None]) -> Mutation:
    def mutate(base: Files, head: Files) -> Files | None:
        text = head.get("pyproject.toml")
        new = edit(text) if text is not None else None
        return {**head, "pyproject.toml": new} if new is not None else None

    return mutate


def _append_table(table: str, line: str) -> Callable[[str], str | None]:
    def edit(text: str) -> str | None:
        if f"[{table}]" in text:
            return (
                text.replace(f"[{table}]", f"[{table}]\n{line}", 1)
                if line.split(" =")[0] not in text.split(f"[{table}]", 1)[1].split("\n[")[0]
                else None
            )
        return text + f"\n[{table}]\n{line}\n"

    return edit


def _lower_fail_under(text: str) -> str | None:
    import re

    match = re.search(r"^fail_under\s*=\s*(\d+)", text, re.M)
    if match is None:
        return None
    return text[: match.start(1)] + "10" + text[match.end(1) :]


def _package_test(replacement: str) -> Mutation:
    def mutate(base: Files, head: Files) -> Files | None:
        text = head.get("package.json")
        if text is None:
            return None
        doc = json.loads(text)
        if "test" not in (doc.get("scripts") or {}):
            return None
        doc["scripts"]["test"] = replacement
        return {**head, "package.json": json.dumps(doc, indent=2) + "\n"}

    return mutate
