"""Tests and assertions that disappear without a loss (:mod:`shared.gates.inventory.removal`),
each rule on the smallest legitimate change the corpus showed, beside the gaming change it
must still catch.
"""

from __future__ import annotations

from shared.gates.inventory import ChangeSnapshot, inventory_findings

SPEC = "test/res.status.js"
SOURCE = "pkg/client.py"
TEST = "tests/test_client.py"


def _codes(base: dict[str, str], head: dict[str, str]) -> list[str]:
    return [f.code for f in inventory_findings(ChangeSnapshot(base=base, head=head))]


def _it(title: str, code: str, wrapper: str = "describe", first: str = "") -> str:
    return (
        f'{wrapper}("when code is {code}", function () {{\n'
        f"  it('{title}', function (done) {{\n{first}"
        "    request(app).get('/').expect(410, done)\n"
        f"    expect(status({code})).toBe(410)\n"
        "  })\n})\n"
    )


def test_a_test_that_never_ran_is_removed_without_a_finding() -> None:
    kept = _it("sets 410 from a string", "'410'")
    skipped = kept + _it("sets 410 from 410.1", "410.1", wrapper="describe.skip")
    assert _codes({SPEC: skipped}, {SPEC: kept}) == []
    running = kept + _it("sets 410 from 410.1", "410.1")
    assert _codes({SPEC: running}, {SPEC: kept}) == ["test_removed"]
    # A test that ran on some platforms only did run: its removal still checks less.
    conditional = kept + _it("sets 410 from 410.1", "410.1", first="    if (isIoJs) this.skip()\n")
    assert _codes({SPEC: conditional}, {SPEC: kept}) == ["test_removed"]


JSONP = "test/res.jsonp.js"
WIDE = """describe('res', function () {
  it('should not override previous Content-Types with no callback', function (done) {
    app.get('/', function (req, res) {
      res.type('application/vnd.example+json');
      res.jsonp({ hello: 'world' });
    });
    request(app)
    .get('/')
    .expect('Content-Type', 'application/vnd.example+json; charset=utf-8')
    .expect(utils.shouldNotHaveHeader('X-Content-Type-Options'))
    .expect(200, '{"hello":"world"}', done);
  })
"""
NARROW = """  it('should not override previous Content-Types', function (done) {
    app.get('/', function (req, res) {
      res.type('application/vnd.example+json');
      res.jsonp({ hello: 'world' });
    });
    request(app)
    .get('/')
    .expect('content-type', 'application/vnd.example+json; charset=utf-8')
    .expect(200, '{"hello":"world"}', done)
  })
"""


def test_a_duplicate_that_a_remaining_test_contains_is_removed_without_a_finding() -> None:
    base = {JSONP: WIDE + NARROW + "})\n"}
    assert _codes(base, {JSONP: WIDE + "})\n"}) == []
    # The wider test removed, the narrow one kept: the header check is lost.
    assert _codes(base, {JSONP: "describe('res', function () {\n" + NARROW + "})\n"}) == [
        "test_removed"
    ]
    # A test that does the same and more before asserting checks another state.
    setup = WIDE.replace(
        "      res.jsonp({ hello: 'world' });\n",
        "      res.set('X-Content-Type-Options', 'nosniff');\n"
        "      res.jsonp({ hello: 'world' });\n",
    ).replace("    .expect(utils.shouldNotHaveHeader('X-Content-Type-Options'))\n", "")
    assert _codes({JSONP: setup + NARROW + "})\n"}, {JSONP: setup + "})\n"}) == ["test_removed"]
    # The same steps checked against another expected body (a regular expression) differ.
    other_body = WIDE.replace('\'{"hello":"world"}\'', "/hello/")
    assert _codes({JSONP: other_body + NARROW + "})\n"}, {JSONP: other_body + "})\n"}) == [
        "test_removed"
    ]
    # A near twin that differs in its input is another case, not a duplicate.
    other_input = NARROW.replace("Content-Types'", "Content-Types for text'").replace(
        "{ hello: 'world' }", "'text'"
    )
    assert _codes({JSONP: WIDE + other_input + "})\n"}, {JSONP: WIDE + "})\n"}) == ["test_removed"]


NETRC_SOURCE = """import os


class NetRCInfo:
    def __init__(self):
        self.path = os.getenv("NETRC", "~/.netrc")
"""
NETRC_TEST = """import os


def test_priority_of_auth_header():
    os.environ["NETRC"] = "tests/.netrc"
    response = get("http://example.org", headers={"Authorization": "Override"})
    assert response.json() == {"auth": "Override"}


def test_get():
    assert get("http://example.org").status_code == 200
"""


def test_a_test_of_an_environment_variable_the_code_stops_reading_goes_with_it() -> None:
    base = {SOURCE: NETRC_SOURCE, TEST: NETRC_TEST}
    without_test = NETRC_TEST[NETRC_TEST.index("def test_get") :]
    assert _codes(base, {SOURCE: "class Client:\n    pass\n", TEST: without_test}) == []
    # The code still reads NETRC: the test that drives it is deleted, nothing else changes.
    assert _codes(base, {SOURCE: NETRC_SOURCE, TEST: without_test}) == ["test_removed"]
    # Monkeypatched spellings name the variable too.
    patched = NETRC_TEST.replace(
        'os.environ["NETRC"] = "tests/.netrc"', 'monkeypatch.setenv("NETRC", "tests/.netrc")'
    )
    assert _codes(
        {SOURCE: NETRC_SOURCE, TEST: patched}, {SOURCE: NETRC_SOURCE, TEST: without_test}
    ) == ["test_removed"]
    assert (
        _codes({SOURCE: NETRC_SOURCE, TEST: patched}, {SOURCE: "x = 1\n", TEST: without_test}) == []
    )


SSL_SOURCE = """import certifi


class SSLContext:
    def __init__(self):
        self.cafile = certifi.where()


def create_ssl_context():
    return SSLContext()
"""
SSL_TEST = """import sys

import httpx


def test_certifi_lazy_loading():
    del sys.modules["certifi"]
    context = httpx.SSLContext()
    assert "certifi" in sys.modules


def test_create():
    assert httpx.create_ssl_context() is not None
"""


def test_a_test_that_only_uses_a_removed_class_on_its_way_is_still_a_removal() -> None:
    base = {SOURCE: SSL_SOURCE, TEST: SSL_TEST}
    only_create = SSL_TEST[SSL_TEST.index("def test_create") :]
    head_source = "import certifi\n\n\ndef create_ssl_context():\n    return certifi.where()\n"
    # Its siblings were ported to create_ssl_context(); the lazy loading it checks is still
    # there to check, so deleting it instead of porting it checks less.
    assert _codes(base, {SOURCE: head_source, TEST: only_create}) == ["test_removed"]
    assert _codes(base, {SOURCE: SSL_SOURCE, TEST: only_create}) == ["test_removed"]


JAVA_SOURCE = "src/main/java/com/example/MapFactory.java"
JAVA_TEST = "src/test/java/com/example/MapTest.java"
FACTORY = """package com.example;

import com.example.internal.LinkedTreeMap;
import java.util.LinkedHashMap;

class MapFactory {
  static Map<?, ?> create(Type type) {
    return hasStringKey(type) ? new LinkedTreeMap<>() : new LinkedHashMap<>();
  }
}
"""
MAP_TEST = """package com.example;

import com.example.internal.LinkedTreeMap;

class MapTest {
  @Test
  void stringKeys() {
    Map<?, ?> map = gson.fromJson("{\\"a\\":1}", STRING_MAP);
    assertWithMessage("uses LinkedTreeMap").that(map).isInstanceOf(LinkedTreeMap.class);
    assertThat(map).isEqualTo(Collections.singletonMap("a", 1));
  }
}
"""


def test_an_assertion_on_a_class_the_code_stops_importing_goes_with_it() -> None:
    base = {JAVA_SOURCE: FACTORY, JAVA_TEST: MAP_TEST}
    tree_check = (
        '    assertWithMessage("uses LinkedTreeMap").that(map).isInstanceOf(LinkedTreeMap.class);\n'
    )
    dropped = MAP_TEST.replace(tree_check, "").replace(
        "import com.example.internal.LinkedTreeMap;\n", ""
    )
    new_factory = FACTORY.replace("import com.example.internal.LinkedTreeMap;\n", "").replace(
        "hasStringKey(type) ? new LinkedTreeMap<>() : new LinkedHashMap<>()",
        "new LinkedHashMap<>()",
    )
    assert _codes(base, {JAVA_SOURCE: new_factory, JAVA_TEST: dropped}) == []
    # The code still picks LinkedTreeMap: the assertion that checked it is simply deleted.
    assert _codes(base, {JAVA_SOURCE: FACTORY, JAVA_TEST: dropped}) == ["assert_removed"]
    # The other assertion deleted instead: it names nothing the change removes.
    kept_tree = MAP_TEST.replace(
        '    assertThat(map).isEqualTo(Collections.singletonMap("a", 1));\n', ""
    )
    assert _codes(base, {JAVA_SOURCE: new_factory, JAVA_TEST: kept_tree}) == ["assert_removed"]
