"""Go build constraints (``//go:build`` expressions), evaluated for a default ``go test``.

Grammar (go command, "Build constraints"): ``||``, ``&&``, ``!``, parentheses and tags. A tag
is satisfied when it names the default Linux/amd64 toolchain (GOOS, GOARCH, ``unix``, ``gc``,
``cgo``, a ``go1.N`` release); any other tag (``ignore``, ``integration``, a custom one) is
unset in a plain ``go test ./...``, which is what CI runs unless it passes ``-tags``.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(\|\||&&|!|\(|\)|[A-Za-z0-9_.]+)")
_DEFAULT = frozenset({"linux", "amd64", "unix", "gc", "cgo"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[str] = _TOKEN.findall(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expr(self) -> bool:
        value = self.conj()
        while self.peek() == "||":
            self.take()
            value = self.conj() or value
        return value

    def conj(self) -> bool:
        value = self.unary()
        while self.peek() == "&&":
            self.take()
            value = self.unary() and value
        return value

    def unary(self) -> bool:
        token = self.take()
        if token == "!":
            return not self.unary()
        if token == "(":
            value = self.expr()
            if self.peek() == ")":
                self.take()
            return value
        return token in _DEFAULT or bool(re.fullmatch(r"go1\.\d+", token))


def build_constraint_satisfied(expression: str) -> bool:
    """Whether a ``//go:build`` expression holds for a default ``go test`` on linux/amd64.
    An expression that does not parse counts as satisfied (the file is not hidden by it)."""
    try:
        return _Parser(expression).expr()
    except IndexError:
        return True
