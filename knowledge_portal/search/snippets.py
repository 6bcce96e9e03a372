"""Safe HTML snippets: every character of document text is escaped, and only
the ``<mark>`` elements this module writes are markup."""

from __future__ import annotations

import html
from typing import Any

from whoosh.highlight import Formatter, get_text

SNIPPET_CHARS = 220


class MarkFormatter(Formatter):
    """whoosh formatter emitting escaped text with ``<mark>`` around matches."""

    between = " … "

    def _text(self, text: str) -> str:
        return html.escape(text, quote=True)

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<mark>{html.escape(get_text(text, token, replace), quote=True)}</mark>"


def plain_snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The escaped start of ``text`` (cut at a word boundary) when nothing
    matched in it, e.g. for an empty query or a match in a facet only."""
    text = " ".join(text.split())
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        text = text[: cut if cut > limit // 2 else limit].rstrip() + " …"
    return html.escape(text, quote=True)
