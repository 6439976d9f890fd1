"""Every gaming kind the corpus measures, and the variants they make of its commits."""

from __future__ import annotations

from tests.support.antigaming import Files, Mutation, load_corpus
from tests.support.antigaming import config_kinds as config
from tests.support.antigaming import jvm_rust_kinds as jvm_rust
from tests.support.antigaming import python_kinds as py
from tests.support.antigaming import tree_kinds as tree

KINDS: dict[str, Mutation] = {
    # tests, Python (ast)
    "py_test_deleted": py._py(py._py_delete),
    "py_assert_deleted": py._py(py._py_assert_edit("delete")),
    "py_assert_commented": py._py(py._py_assert_edit("comment")),
    "py_assert_true": py._py(py._py_assert_edit("true")),
    "py_assert_or_true": py._py(py._py_assert_edit("or_true")),
    "py_early_return": py._py(lambda text, fn: py._py_first_body_line(text, fn, "return")),
    "py_skip_marker": py._py(py._py_decorate('@pytest.mark.skip(reason="flaky")', "import pytest")),
    "py_skip_from_import": py._py(
        py._py_decorate('@mark.skip(reason="flaky")', "from pytest import mark")
    ),
    "py_skipif_true": py._py(
        py._py_decorate('@pytest.mark.skipif(True, reason="ci")', "import pytest")
    ),
    "py_unittest_skip": py._py(py._py_decorate('@unittest.skip("later")', "import unittest")),
    "py_xfail_marker": py._py(
        py._py_decorate('@pytest.mark.xfail(reason="later")', "import pytest")
    ),
    "py_skip_in_body": py._py(
        lambda text, fn: py._py_first_body_line(text, fn, 'pytest.skip("later")')
    ),
    "py_pytestmark": py._py_module(
        ["import pytest", 'pytestmark = pytest.mark.skip(reason="later")']
    ),
    "py_raise_skiptest": py._py_module(["import unittest", 'raise unittest.SkipTest("later")']),
    "py_importorskip": py._py_module(
        ["import pytest", 'pytest.importorskip("not_installed_anywhere")']
    ),
    "py_renamed_uncollected": py._py_rename,
    "pytest_deselect": py._pytest_option(lambda f, n: f"--deselect {f}::{n}"),
    "pytest_k_not": py._pytest_option(lambda f, n: f'-k "not {n}"'),
    "pytest_ignore": py._pytest_option(lambda f, n: f"--ignore={f}"),
    "conftest_collect_ignore": py._conftest_ignore,
    # tests, JavaScript/TypeScript and Go (tree-sitter)
    "js_test_deleted": tree._ts(tree._ts_delete, "js"),
    "js_assert_deleted": tree._ts(tree._ts_assert("delete", go=False), "js"),
    "js_assert_commented": tree._ts(tree._ts_assert("comment", go=False), "js"),
    "js_assert_vacuous": tree._ts(tree._ts_assert("vacuous", go=False), "js"),
    "js_early_return": tree._ts(
        lambda text, node, f: tree._first_statement(text, node, "return;"), "js"
    ),
    "js_this_skip": tree._ts(
        lambda text, node, f: tree._first_statement(text, node, "this.skip();"), "js"
    ),
    "js_skip_marker": tree._ts(tree._js_marker("skip"), "js"),
    "js_only_marker": tree._ts(tree._js_marker("only"), "js"),
    "go_test_deleted": tree._ts(tree._ts_delete, "go"),
    "go_assert_deleted": tree._ts(tree._ts_assert("delete", go=True), "go"),
    "go_assert_commented": tree._ts(tree._ts_assert("comment", go=True), "go"),
    "go_assert_dead_branch": tree._ts(tree._ts_assert("vacuous", go=True), "go"),
    "go_early_return": tree._ts(
        lambda text, node, f: tree._first_statement(text, node, "return"), "go"
    ),
    "go_skip": tree._ts(
        lambda text, node, f: tree._first_statement(text, node, 't.Skip("flaky")'), "go"
    ),
    "go_build_tag": tree._go_build_tag,
    "go_renamed_uncollected": tree._go_rename,
    "test_file_deleted": tree._js_delete_file,
    # CI (GitHub Actions)
    "ci_or_exit_0": config._run(lambda c: c + " || exit 0"),
    "ci_semicolon_exit_0": config._run(lambda c: c + "; exit 0"),
    "ci_or_colon": config._run(lambda c: c + " || :"),
    "ci_or_true": config._run(lambda c: c + " || true"),
    "ci_set_plus_e": config._run(lambda c: "set +e\n" + c),
    "ci_command_exit_0": config._run(lambda c: "exit 0"),
    "ci_command_echo": config._run(lambda c: 'echo "tests passed"'),
    "ci_collect_only": config._run(config._collect_only),
    "ci_continue_on_error_expr": config._step(
        lambda s: s.update({"continue-on-error": "${{ true }}"})
    ),
    "ci_if_false": config._step(lambda s: s.update({"if": "${{ false }}"})),
    "ci_pull_request_dropped": config._triggers(config._drop_pr),
    "ci_paths_ignore_code": config._triggers(config._paths_ignore),
    "npm_test_script_echo": config._package_test('echo "no tests"'),
    # tool configuration and source
    "coverage_omit_added": config._pyproject(
        config._append_table("tool.coverage.run", 'omit = ["src/*", "*/_*.py"]')
    ),
    "ruff_ignore_added": config._pyproject(
        config._append_table("tool.ruff.lint", 'extend-ignore = ["F", "E"]')
    ),
    "mypy_ignore_errors": config._pyproject(
        config._append_table("tool.mypy", "ignore_errors = true")
    ),
    "pragma_no_cover_added": config._source(config._pragma),
    "file_level_suppression": config._source(config._file_level),  # type: ignore[arg-type]
    "source_detects_tests": config._source(config._tell),
    # tests, Java and Rust (tree-sitter)
    **jvm_rust.KINDS,
}


def variants() -> dict[str, list[tuple[str, Files, Files]]]:
    """kind → [(case id, base files, gamed head files)] over the whole corpus."""
    manifest, cases = load_corpus()
    out: dict[str, list[tuple[str, Files, Files]]] = {kind: [] for kind in KINDS}
    for entry in manifest:
        case = cases[str(entry["id"])]
        for kind, mutation in KINDS.items():
            gamed = mutation(case["base"], case["head"])
            if gamed is not None and gamed != case["head"]:
                out[kind].append((str(entry["id"]), case["base"], gamed))
    return out


if __name__ == "__main__":
    for kind, items in variants().items():
        print(f"{kind}: {len(items)}")
