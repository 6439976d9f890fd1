"""The anti-gaming inventory on hand-written states: each rule the issue lists, both ways.

Real commits and their gaming variants are measured in ``test_antigaming_corpus.py``; here
each rule is shown on the smallest change that exercises it, with its file, line and evidence.
"""

from __future__ import annotations

from shared.gates.inventory import ChangeSnapshot, build_inventory, inventory_findings
from shared.gates.judge import gate_report
from shared.policy.model import Policy

TEST = "tests/test_cart.py"
BASE_TEST = """import pytest


def test_total():
    cart = Cart()
    assert cart.total() == 0
    assert cart.items == []


class TestTax:
    def test_rate(self):
        self.assertEqual(rate("FR"), 20)
"""


def _codes(base: dict[str, str], head: dict[str, str]) -> list[str]:
    return [f.code for f in inventory_findings(ChangeSnapshot(base=base, head=head))]


def _edit(old: str, new: str, text: str = BASE_TEST) -> dict[str, str]:
    assert old in text
    return {TEST: text.replace(old, new)}


def test_python_tests_are_read_with_assertions_skips_and_early_exits() -> None:
    inv = build_inventory({TEST: BASE_TEST})
    assert [(t.suite, t.name, t.assertions, t.collected) for t in inv.tests] == [
        (None, "test_total", 2, True),
        ("TestTax", "test_rate", 1, True),
    ]
    assert build_inventory({"tests/helpers.py": BASE_TEST}).tests[0].collected is False


def test_commented_vacuous_and_early_exit_edits_are_findings() -> None:
    base = {TEST: BASE_TEST}
    commented = _edit("    assert cart.items == []", "    # assert cart.items == []")
    assert _codes(base, commented) == ["assert_removed"]
    assert _codes(base, _edit("cart.items == []", "cart.items == [] or True")) == [
        "assert_removed",
        "vacuous_assertion_added",
    ]
    assert "vacuous_assertion_added" in _codes(
        base, _edit('self.assertEqual(rate("FR"), 20)', "self.assertTrue(True)")
    )
    assert _codes(base, _edit("    cart = Cart()\n", "    return\n    cart = Cart()\n")) == [
        "early_exit_added"
    ]


def test_every_skip_spelling_is_caught_and_a_real_condition_is_a_warning() -> None:
    base = {TEST: BASE_TEST}
    spellings = {
        "pytestmark": _edit(
            "import pytest\n", 'import pytest\npytestmark = pytest.mark.skip("x")\n'
        ),
        "from_import": _edit("import pytest\n", "import pytest\nfrom pytest import mark\n")[
            TEST
        ].replace("def test_total", "@mark.skip\ndef test_total"),
        "skiptest": _edit("import pytest\n", 'import pytest\nraise unittest.SkipTest("x")\n'),
        "importorskip": _edit("import pytest\n", 'import pytest\npytest.importorskip("nope")\n'),
        "skipif_true": _edit(
            "def test_total", "@pytest.mark.skipif(True, reason='x')\ndef test_total"
        ),
        "in_body": _edit("    cart = Cart()\n", '    pytest.skip("later")\n    cart = Cart()\n'),
    }
    for name, head in spellings.items():
        files = head if isinstance(head, dict) else {TEST: head}
        assert "test_skip_added" in _codes(base, files), name
    real = _edit(
        "def test_total", "@pytest.mark.skipif(sys.platform == 'win32', reason='x')\ndef test_total"
    )
    findings = inventory_findings(ChangeSnapshot(base=base, head=real))
    assert [(f.code, f.severity, f.line) for f in findings] == [
        ("conditional_skip_added", "warning", 4)
    ]


def test_a_move_is_not_a_removal_and_a_test_removed_with_its_code_is_legitimate() -> None:
    other = "tests/test_totals.py"
    moved = {
        TEST: BASE_TEST.split("\n\n\ndef test_total")[0] + "\n\n\nclass TestTax:\n"
        "    def test_rate(self):\n        self.assertEqual(rate('FR'), 20)\n",
        other: "def test_total():\n    cart = Cart()\n    assert cart.total() == 0\n"
        "    assert cart.items == []\n",
    }
    assert _codes({TEST: BASE_TEST, other: ""}, moved) == []
    source = "shop/tax.py"
    base = {TEST: BASE_TEST, source: "def rate(country):\n    return 20\n"}
    head = {TEST: BASE_TEST.split("\n\n\nclass TestTax")[0] + "\n", source: "X = 1\n"}
    assert _codes(base, head) == []
    kept_source = {**head, source: base[source]}
    removed = inventory_findings(ChangeSnapshot(base=base, head=kept_source))
    assert [(f.code, f.line, f.before, f.after) for f in removed] == [
        ("test_removed", 11, "TestTax::test_rate: 1 assertion(s)", "absent")
    ]


def test_collection_narrowed_by_configuration_is_a_finding() -> None:
    base = {TEST: BASE_TEST, "pyproject.toml": "[tool.pytest.ini_options]\nminversion = '8'\n"}
    deselect = {
        **base,
        "pyproject.toml": base["pyproject.toml"]
        + 'addopts = "--deselect tests/test_cart.py::test_total"\n',
    }
    assert set(_codes(base, deselect)) == {"tests_deselected", "test_not_collected"}
    conftest = {**base, "tests/conftest.py": 'collect_ignore = ["test_cart.py"]\n'}
    assert "test_not_collected" in _codes({**base, "tests/conftest.py": ""}, conftest)
    renamed = {"tests/cart_checks.py": BASE_TEST, "pyproject.toml": base["pyproject.toml"]}
    assert "test_not_collected" in _codes(base, renamed)


WORKFLOW = """name: ci
on:
  push:
  pull_request:
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ["3.9", "3.12"]
    steps:
      - uses: actions/checkout@v4
      - name: tests
        run: pytest -q
"""
WF = ".github/workflows/ci.yml"


def test_ci_tolerance_conditions_triggers_and_paths_are_findings() -> None:
    base = {WF: WORKFLOW}
    cases = {
        "run: pytest -q || exit 0": "ci_failure_ignored",
        "run: pytest -q; exit 0": "ci_failure_ignored",
        "run: 'pytest -q || :'": "ci_failure_ignored",
        "run: |\n          set +e\n          pytest -q": "ci_failure_ignored",
        "run: exit 0": "ci_check_removed",
        "run: echo pytest -q": "ci_check_removed",
        "run: pytest --collect-only": "ci_tests_not_run",
        "run: pytest -q\n        continue-on-error: ${{ true }}": "ci_failure_ignored",
        "run: pytest -q\n        if: ${{ false }}": "ci_step_disabled",
    }
    for replacement, code in cases.items():
        head = {WF: WORKFLOW.replace("run: pytest -q", replacement)}
        assert code in _codes(base, head), replacement
    dropped = {WF: WORKFLOW.replace("  pull_request:\n", "")}
    assert _codes(base, dropped) == ["ci_trigger_dropped"]
    ignored = {
        WF: WORKFLOW.replace("  pull_request:\n", "  pull_request:\n    paths-ignore: ['**.py']\n"),
        TEST: BASE_TEST,
    }
    assert _codes({**base, TEST: BASE_TEST}, ignored) == ["ci_paths_ignored"]
    # Dropping an end-of-life Python from the matrix, or a non-test step, checks nothing less.
    matrix = {
        WF: WORKFLOW.replace('"3.9", ', "").replace("      - uses: actions/checkout@v4\n", "")
    }
    assert _codes(base, matrix) == []
    conditional = {
        WF: WORKFLOW.replace(
            "run: pytest -q",
            "run: pytest -q\n        continue-on-error: ${{ matrix.python == '3.14' }}",
        )
    }
    assert _codes(base, conditional) == []


def test_coverage_lint_and_source_tells_are_findings() -> None:
    src = "shop/cart.py"
    code = "import os\n\n\ndef total(items):\n    return sum(items)\n"
    base = {src: code, "pyproject.toml": "[tool.coverage.report]\nfail_under = 90\n"}
    head = {
        src: code.replace("return sum(items)", "return sum(items)  # pragma: no cover"),
        "pyproject.toml": "[tool.coverage.report]\nfail_under = 70\nomit = ['shop/*']\n"
        "[tool.mypy]\nignore_errors = true\n[tool.ruff.lint]\nignore = ['F']\n",
    }
    assert sorted(_codes(base, head)) == [
        "coverage_narrowed",
        "coverage_narrowed",
        "coverage_threshold_lowered",
        "lint_narrowed",
        "lint_narrowed",
    ]
    new_code = {**base, src: code + "\n\ndef spare():  # pragma: no cover\n    return 1\n"}
    assert [f.severity for f in inventory_findings(ChangeSnapshot(base=base, head=new_code))] == [
        "warning"
    ]
    tell = {**base, src: code + '\n\nTESTING = "PYTEST_CURRENT_TEST" in os.environ\n'}
    assert _codes(base, tell) == ["test_detection_added"]


def test_javascript_and_go_tests_are_read_with_tree_sitter() -> None:
    js = "test/cart.spec.js"
    spec = (
        "describe('cart', () => {\n  it('totals', () => {\n"
        "    expect(total([1])).toBe(1);\n  });\n});\n"
    )
    assert [(t.suite, t.name, t.assertions) for t in build_inventory({js: spec}).tests] == [
        ("cart", "totals", 1)
    ]
    assert _codes({js: spec}, {js: spec.replace("it(", "it.only(")}) == ["test_only_added"]
    assert _codes(
        {js: spec}, {js: spec.replace("expect(total([1])).toBe(1)", "expect(true).toBe(true)")}
    ) == ["assert_removed", "vacuous_assertion_added"]
    assert _codes(
        {js: spec},
        {js: spec.replace("() => {\n    expect", "function () {\n    this.skip();\n    expect")},
    ) == ["test_skip_added"]
    go = "cart_test.go"
    gotest = (
        "package cart\n\nfunc TestTotal(t *testing.T) {\n"
        '\tif Total() != 0 {\n\t\tt.Errorf("bad")\n\t}\n}\n'
    )
    assert [(t.name, t.assertions) for t in build_inventory({go: gotest}).tests] == [
        ("TestTotal", 1)
    ]
    assert _codes({go: gotest}, {go: "//go:build integration\n\n" + gotest}) == [
        "test_not_collected"
    ]
    assert _codes({go: gotest}, {go: gotest.replace("if Total() != 0", "if false")}) == [
        "assert_removed",
        "vacuous_assertion_added",
    ]
    skipped_on_windows = gotest.replace(
        "{\n\tif", '{\n\tif runtime.GOOS == "windows" {\n\t\tt.Skip("no")\n\t}\n\tif'
    )
    assert [
        f.severity
        for f in inventory_findings(
            ChangeSnapshot(base={go: gotest}, head={go: skipped_on_windows})
        )
    ] == ["warning"]


def test_the_judge_decides_on_the_inventory_when_both_sides_are_given() -> None:
    base = {TEST: BASE_TEST}
    head = _edit("    assert cart.items == []\n", "")
    report = gate_report(
        [], {"summary": "done"}, Policy(), snapshot=ChangeSnapshot(base=base, head=head)
    )
    assert report.verdict is not None and report.verdict.decision == "needs_human"
    assert report.record()["antigaming_source"] == "inventory"
    finding = report.record()["gate_findings"][0]
    assert (finding["code"], finding["line"], finding["before"], finding["after"]) == (
        "assert_removed",
        4,
        "tests/test_cart.py:4 2 assertion(s)",
        "tests/test_cart.py:4 1 assertion(s)",
    )


def test_package_scripts_and_workflow_paths_are_read_without_code_in_the_change() -> None:
    package = '{"scripts": {"test-ci": "nyc mocha test/", "lint": "eslint ."}}\n'
    workflow = WORKFLOW.replace("run: pytest -q", "run: npm run test-ci")
    base = {WF: workflow, "package.json": package}
    echoed = {WF: workflow, "package.json": package.replace("nyc mocha test/", "echo ok")}
    assert _codes(base, echoed) == ["ci_check_removed"]
    tolerated = {
        WF: workflow.replace("npm run test-ci", "npm run test-ci || true"),
        "package.json": package,
    }
    assert _codes(base, tolerated) == ["ci_failure_ignored"]
    ignored = {
        WF: workflow.replace(
            "  pull_request:\n", "  pull_request:\n    paths-ignore: ['**/*.js']\n"
        ),
        "package.json": package,
    }
    assert _codes(base, ignored) == ["ci_paths_ignored"]
    docs_only = {
        WF: workflow.replace(
            "  pull_request:\n", "  pull_request:\n    paths-ignore: ['docs/**']\n"
        ),
        "package.json": package,
    }
    assert _codes(base, docs_only) == []


def test_tests_folded_into_one_parametrized_test_are_not_removed() -> None:
    base = (
        "import pytest\n\n\n@pytest.mark.parametrize('name', ['a', 'b'])\n"
        "def test_old(name):\n    assert check(name)\n"
    )
    head = (
        "import pytest\n\n\n@pytest.mark.parametrize('name', ['a', 'b', 'c'])\n"
        "def test_all(name):\n    assert check(name)\n"
    )
    assert _codes({TEST: base}, {TEST: head}) == []
    fewer = head.replace("['a', 'b', 'c']", "['a', 'c']").replace("check(name)", "run(name)")
    assert _codes({TEST: base}, {TEST: fewer}) == ["test_removed"]


JS_TEST = "test/req.query.js"
JS_BASE = """var request = require('supertest')

describe('req.query', function () {
  it('parses keys', function (done) {
    request(createApp('extended')).get('/?a=1').expect(200, '{"a":"1"}', done)
  })

  it('keeps prototype keys', function (done) {
    request(createApp('extended', true)).get('/?hasOwnProperty=1').expect(200, done)
  })
})

function createApp(setting, isPrototypeTest) {
  return makeApp(setting, isPrototypeTest)
}
"""


def test_a_test_removed_with_the_helper_parameter_it_drove_is_legitimate() -> None:
    inv = build_inventory({JS_TEST: JS_BASE})
    assert inv.helpers == {f"{JS_TEST}|createApp/2"}
    assert [sorted(t.calls) for t in inv.tests] == [
        ["createApp/1", "request/1"],
        ["createApp/2", "request/1"],
    ]
    dropped = JS_BASE.replace(
        """  it('keeps prototype keys', function (done) {
    request(createApp('extended', true)).get('/?hasOwnProperty=1').expect(200, done)
  })
""",
        "",
    )
    assert _codes({JS_TEST: JS_BASE}, {JS_TEST: dropped}) == ["test_removed"]
    # The change reverts the mode with its tests: the helper no longer takes the flag.
    reverted = dropped.replace(
        "function createApp(setting, isPrototypeTest) {\n"
        "  return makeApp(setting, isPrototypeTest)",
        "function createApp(setting) {\n  return makeApp(setting)",
    )
    assert _codes({JS_TEST: JS_BASE}, {JS_TEST: reverted}) == []
    # The helper losing a parameter does not excuse removing a test that never passed it.
    first_removed = reverted.replace(
        """  it('parses keys', function (done) {
    request(createApp('extended')).get('/?a=1').expect(200, '{"a":"1"}', done)
  })

""",
        "",
    )
    assert _codes({JS_TEST: JS_BASE}, {JS_TEST: first_removed}) == ["test_removed"]
