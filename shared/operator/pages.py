"""Keyset pagination of the operators' lists (newest first by id): an opaque cursor that says
after which id the next page starts, so a page never repeats or skips a row while new ones
arrive. A cursor is base64url of ``<list>:<id>``; one list's cursor is refused by another."""

from __future__ import annotations

import base64
import binascii

from shared.errors import PermanentError

#: The largest page any list answers (no unbounded query).
MAX_PAGE = 200


class CursorError(PermanentError):
    """400: a ``cursor`` that no page of this list gave out (``field`` = ``cursor``)."""

    status = 400


def encode_cursor(kind: str, last_id: int) -> str:
    """The opaque cursor after ``last_id`` for list ``kind``."""
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The id a cursor points after, or None for the first page.

    Raises:
        CursorError: not a cursor this list gave out.
    """
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raw = ""
    prefix, _, number = raw.partition(":")
    if prefix != kind or not number.isdigit() or len(number) > 18:
        raise CursorError(
            "cursor: expected the next_cursor of a previous page of this list", field="cursor"
        )
    return int(number)
