"""HTML sanitising of rich text (practice bodies) with nh3, and HTML-to-text for the index."""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h2",
    "h3",
    "h4",
    "a",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "hreflang"}, "th": {"scope"}, "td": {"colspan", "rowspan"}}


def clean_html(value: str | None) -> str:
    """Keep a safe subset of HTML: no scripts, styles, event handlers or javascript: URLs."""
    if not value:
        return ""
    return nh3.clean(
        value,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")


def html_to_text(value: str | None) -> str:
    """Plain text of sanitised HTML (for the search index and feeds' summaries)."""
    if not value:
        return ""
    text = _TAG_RE.sub(" ", value)
    return _SPACE_RE.sub(" ", html.unescape(text)).strip()
