"""Agent message text as HTML that cannot inject script (issue 15: "markdown rendered safely").

CommonMark through markdown-it-py with raw HTML off: ``<script>``, ``<img onerror=…>`` and any
other tag in the text come out escaped, and markdown-it's link validation refuses
``javascript:``, ``vbscript:``, ``file:`` and non-image ``data:`` URLs.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False})


def render_markdown(text: str | None) -> str:
    """``text`` (CommonMark) as safe HTML; ``""`` for no text."""
    return _MD.render(text) if text else ""
