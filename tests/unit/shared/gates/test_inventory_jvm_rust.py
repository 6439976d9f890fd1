"""Java (JUnit 4/5) and Rust tests in the anti-gaming inventory, and the comparison rules the
Java and Rust commits of the corpus needed (a rename whose old name a new test takes, tests
merged into one in another file, an assertion deleted beside new ones, assertions in a loop).
"""

from __future__ import annotations

from shared.gates.inventory import ChangeSnapshot, build_inventory, inventory_findings
from shared.gates.inventory.shell import analyse

JAVA = "src/test/java/com/example/CartTest.java"
JAVA_BASE = """package com.example;

import static org.junit.jupiter.api.Assertions.*;

class CartTest {
  @Test
  void total() {
    Cart cart = new Cart();
    assertEquals(0, cart.total());
    assertTrue(cart.isEmpty());
  }

  @Test
  void tax() {
    assertWithMessage("French rate").that(Tax.rate("FR")).isEqualTo(20);
  }

  @Nested
  class Discounts {
    @org.junit.Test
    public void none() {
      assertThat(new Cart().discount()).isEqualTo(0);
    }
  }

  void helper() {}
}
"""

RUST = "src/cart.rs"
RUST_BASE = """pub fn total(items: &[u32]) -> u32 { items.iter().sum() }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty() {
        assert_eq!(total(&[]), 0);
        assert!(total(&[1]) > 0);
    }

    #[test]
    fn many() {
        for items in &[[1, 2], [2, 1]] {
            assert_eq!(total(items), 3);
        }
        assert_parses("1,2");
    }

    fn assert_parses(s: &str) { assert!(!s.is_empty()); }
}
"""


def _codes(base: dict[str, str], head: dict[str, str]) -> list[str]:
    return [f.code for f in inventory_findings(ChangeSnapshot(base=base, head=head))]


def _java(old: str, new: str) -> dict[str, str]:
    assert old in JAVA_BASE
    return {JAVA: JAVA_BASE.replace(old, new)}


def _rust(old: str, new: str) -> dict[str, str]:
    assert old in RUST_BASE
    return {RUST: RUST_BASE.replace(old, new)}


def test_junit_tests_are_read_with_suites_assertions_and_skips() -> None:
    inv = build_inventory({JAVA: JAVA_BASE})
    assert [(t.suite, t.name, t.assertions, t.vacuous, t.language) for t in inv.tests] == [
        ("CartTest", "total", 2, 0, "java"),
        ("CartTest", "tax", 1, 0, "java"),
        ("CartTest::Discounts", "none", 1, 0, "java"),
    ]
    assert inv.tests[0].checks == ("assertEquals(0, cart.total())", "assertTrue(cart.isEmpty())")


def test_junit_gaming_edits_are_findings_and_a_real_assumption_a_warning() -> None:
    base = {JAVA: JAVA_BASE}
    assert _codes(
        base, _java("  @Test\n  void tax()", '  @Test\n  @Disabled("later")\n  void tax()')
    ) == ["test_skip_added"]
    assert (
        _codes(base, _java("class CartTest {", "@Ignore\nclass CartTest {"))
        == ["test_skip_added"]  # one finding at the class marker
    )
    assert _codes(
        base,
        _java(
            "    Cart cart = new Cart();",
            "    Assumptions.assumeTrue(false);\n    Cart cart = new Cart();",
        ),
    ) == ["test_skip_added"]
    assert _codes(
        base,
        _java(
            "    Cart cart = new Cart();",
            "    Assumptions.assumeTrue(ci());\n    Cart cart = new Cart();",
        ),
    ) == ["conditional_skip_added"]
    assert _codes(base, _java("    assertTrue(cart.isEmpty());", "    assertTrue(true);")) == [
        "assert_removed",
        "vacuous_assertion_added",
    ]
    assert _codes(
        base, _java("    assertTrue(cart.isEmpty());", "    // assertTrue(cart.isEmpty());")
    ) == ["assert_removed"]
    removed = _java(
        '  @Test\n  void tax() {\n    assertWithMessage("French rate").that(Tax.rate("FR"))'
        ".isEqualTo(20);\n  }\n",
        "",
    )
    assert _codes(base, removed) == ["test_removed"]


def test_rust_tests_are_read_in_source_modules_with_loops_and_assert_helpers() -> None:
    inv = build_inventory({RUST: RUST_BASE})
    assert [(t.suite, t.name, t.assertions, t.language) for t in inv.tests] == [
        ("tests", "empty", 2, "rust"),
        ("tests", "many", 3, "rust"),  # the loop's assertion runs twice, plus the helper
    ]
    assert "total" in inv.symbols and "empty" not in inv.symbols


def test_rust_gaming_edits_are_findings_and_a_feature_gate_a_warning() -> None:
    base = {RUST: RUST_BASE}
    assert _codes(
        base, _rust("    #[test]\n    fn many()", "    #[test]\n    #[ignore]\n    fn many()")
    ) == ["test_skip_added"]
    assert _codes(
        base, _rust("    #[test]\n    fn many()", "    #[test]\n    #[cfg(any())]\n    fn many()")
    ) == ["test_skip_added"]
    assert _codes(
        base,
        _rust(
            "    #[test]\n    fn many()", '    #[test]\n    #[cfg(feature = "slow")]\n    fn many()'
        ),
    ) == ["conditional_skip_added"]
    assert _codes(base, _rust("        assert!(total(&[1]) > 0);", "        assert!(true);")) == [
        "assert_removed",
        "vacuous_assertion_added",
    ]
    assert _codes(
        base,
        _rust(
            "        assert_eq!(total(&[]), 0);",
            "        return;\n        assert_eq!(total(&[]), 0);",
        ),
    ) == ["early_exit_added"]


def test_an_assertion_deleted_beside_new_ones_is_a_finding_an_edited_one_is_not() -> None:
    base = {RUST: RUST_BASE}
    swapped = _rust(
        "        assert!(total(&[1]) > 0);",
        "        assert_eq!(total(&[4]), 4);\n        assert_eq!(total(&[5]), 5);",
    )
    assert _codes(base, swapped) == []  # one assertion edited, one added
    deleted = _rust(
        "        assert_eq!(total(&[]), 0);\n        assert!(total(&[1]) > 0);",
        "        assert!(total(&[1]) > 0);\n        assert_eq!(total(&[7]), 7);",
    )
    assert [f.before for f in inventory_findings(ChangeSnapshot(base=base, head=deleted))] == [
        "assert_eq!(total(&[]), 0)"
    ]
    # The same checks run from a loop over a literal array are not fewer.
    looped = _rust(
        "        assert_eq!(total(&[]), 0);\n        assert!(total(&[1]) > 0);",
        "        for n in &[0, 1] {\n            assert!(total(&[n]) >= n);\n        }",
    )
    assert _codes(base, looped) == []


def test_a_renamed_test_whose_old_name_a_new_test_takes_keeps_its_identity() -> None:
    base = {RUST: RUST_BASE}
    renamed = _rust(
        "    #[test]\n    fn empty() {",
        "    #[test]\n    fn default_is_zero() {\n        assert_eq!(u32::default(), 0);\n    }\n\n"
        "    #[test]\n    fn empty_items() {",
    ).get(RUST, "")
    renamed = renamed.replace("fn default_is_zero()", "fn empty()")
    assert _codes(base, {RUST: renamed}) == []


def test_tests_merged_into_one_in_another_file_are_not_removed() -> None:
    other = "tests/test_parse.rs"
    base = {
        RUST: RUST_BASE,
        other: '#[test]\nfn parse() {\n    assert_parses("1");\n}\n',
    }
    merged_body = (
        '#[test]\nfn parse() {\n    assert_parses("1");\n}\n\n#[test]\nfn totals() {\n'
        "    assert_eq!(total(&[]), 0);\n    assert!(total(&[1]) > 0);\n"
        "    for items in &[[1, 2], [2, 1]] {\n        assert_eq!(total(items), 3);\n    }\n"
        '    assert_parses("1,2");\n}\n'
    )
    start = RUST_BASE.index("    #[test]\n    fn empty()")
    end = RUST_BASE.index("    fn assert_parses")
    head = {RUST: RUST_BASE[:start] + RUST_BASE[end:], other: merged_body}
    assert _codes(base, head) == []
    # Dropped instead of merged, they are removals.
    assert _codes(base, {RUST: RUST_BASE[:start] + RUST_BASE[end:], other: base[other]}) == [
        "test_removed",
        "test_removed",
    ]


def test_maven_gradle_and_cargo_commands_are_test_runs_and_their_gaming_is_read() -> None:
    assert analyse("mvn --batch-mode verify javadoc:jar").tools == {"mvn verify"}
    assert analyse("./gradlew build -x test").narrowing == ("-x test",)
    assert analyse("cargo test --all-features").tools == {"cargo test"}
    assert analyse("mvn -B clean package").tools == {"mvn package"}
    assert analyse("mvn clean").tools == frozenset()
    assert analyse("mvn -B -DskipTests verify").collect_only
    assert analyse("cargo test --no-run").collect_only
    assert analyse("cargo test || true").tolerant
    assert analyse("mvn verify -Dtest=CartTest").narrowing == ("-Dtest=CartTest",)
