"""A check deleted from a sequence read item by item (:mod:`shared.gates.inventory.streams`):
an edited expected sequence when the next check of the stream stays, a finding otherwise.

The smallest form of a Go test that walks a rendered man page line by line after its
renderer changed output (a dependency update) and no longer emits ``.PP``.
"""

from __future__ import annotations

from shared.gates.inventory import ChangeSnapshot, build_inventory, inventory_findings

TEST = "doc/man_test.go"
PP = """\tif err := nextLineIs(scanner, ".PP"); err != nil {
\t\tt.Fatalf("no break after SEE ALSO: %v", err)
\t}
"""
MAN_TEST = (
    """package doc

func TestSeeAlso(t *testing.T) {
\tscanner := bufio.NewScanner(render())
\tif err := findLine(scanner, ".SH SEE ALSO"); err != nil {
\t\tt.Fatalf("no SEE ALSO: %v", err)
\t}
"""
    + PP
    + """\tif err := nextLineIs(scanner, "root-bbb(1)"); err != nil {
\t\tt.Fatalf("wrong see-also line: %v", err)
\t}
}

func findLine(scanner *bufio.Scanner, want string) error {
\tfor scanner.Scan() {
\t\tif scanner.Text() == want {
\t\t\treturn nil
\t\t}
\t}
\treturn errors.New("EOF")
}

func nextLineIs(scanner *bufio.Scanner, want string) error {
\tif scanner.Scan() && scanner.Text() == want {
\t\treturn nil
\t}
\treturn errors.New("mismatch")
}
"""
)
LAST = """\tif err := nextLineIs(scanner, "root-bbb(1)"); err != nil {
\t\tt.Fatalf("wrong see-also line: %v", err)
\t}
"""


def _codes(base: str, head: str) -> list[str]:
    snapshot = ChangeSnapshot(base={TEST: base}, head={TEST: head})
    return [f.code for f in inventory_findings(snapshot)]


def test_a_next_line_check_deleted_before_one_that_stays_edits_the_expected_sequence() -> None:
    (test,) = build_inventory({TEST: MAN_TEST}).tests
    assert [(r.stream, r.next, r.guards) for r in test.reads] == [
        ("scanner", False, 0),
        ("scanner", True, 1),
        ("scanner", True, 1),
    ]
    # The check after it now reads the line ".PP" was on: it fails unless the output changed.
    assert _codes(MAN_TEST, MAN_TEST.replace(PP, "")) == []


def test_a_deleted_sequence_check_that_shifts_nothing_is_still_a_finding() -> None:
    # The last check of the sequence: nothing reads the stream after it.
    assert _codes(MAN_TEST, MAN_TEST.replace(LAST, "")) == ["assert_removed"]
    # The read stays, its failure is deleted: the line is consumed and never checked.
    unchecked = MAN_TEST.replace('\t\tt.Fatalf("no break after SEE ALSO: %v", err)\n', "")
    assert _codes(MAN_TEST, unchecked) == ["assert_removed"]
    # Replaced by an unchecked read of the same line: the stream is read as before.
    skipped = MAN_TEST.replace(PP, "\tscanner.Scan()\n")
    assert _codes(MAN_TEST, skipped) == ["assert_removed"]
    # A search helper (it loops over the stream) is no next-line check: deleting it shifts
    # nothing, the line-by-line checks after it would find the same lines.
    search = MAN_TEST[: MAN_TEST.index("\tif err := findLine")]
    search += MAN_TEST[MAN_TEST.index(PP) :]
    assert _codes(MAN_TEST, search) == ["assert_removed"]
    # Two next-line checks of the same line: deleting one leaves the other reading it.
    doubled = MAN_TEST.replace(PP, PP.replace(".PP", "root-bbb(1)"))
    assert _codes(doubled, doubled.replace(PP.replace(".PP", "root-bbb(1)"), "")) == [
        "assert_removed"
    ]
