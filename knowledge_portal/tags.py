"""Practice tags: stored (and used in URLs, the search index and the API) as English slugs, shown as labels.

Labels live in the ``tag_labels`` table (secretariat admin: "Tag labels"; the demo
content brings one for each of its tags). A tag without a label is shown in a
readable form of its slug (``digital-identity`` → ``digital identity``), so a
new tag never breaks a page; it only waits for its translation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import g, has_app_context
from sqlalchemy import select

from .db import get_session
from .models import TagLabel, tag_key

__all__ = ["label_table", "readable", "tag_key", "tag_label", "tag_labels"]

_SLUG_PARTS = re.compile(r"[-_]+")


def readable(tag: str | None) -> str:
    """A tag without a label, as text: a slug's dashes and underscores become spaces; phrases stay as they are."""
    text = (tag or "").strip()
    if not text or any(ch.isspace() for ch in text):
        return text
    return _SLUG_PARTS.sub(" ", text).strip() or text


def label_table() -> dict[str, tuple[str, str]]:
    """``{tag_key: (label_ar, label_en)}`` from the database, read once per request (or app context)."""
    cached: dict[str, tuple[str, str]] | None = g.get("_tag_labels") if has_app_context() else None
    if cached is not None:
        return cached
    table = {row.slug: (row.label_ar or "", row.label_en or "") for row in get_session().scalars(select(TagLabel))}
    if has_app_context():
        g._tag_labels = table
    return table


def tag_label(tag: str | None, lang: str | None = None) -> str:
    """The label of ``tag`` in ``lang`` (default: the page's language), else the other language, else readable."""
    if lang is None:
        from .i18n import current_lang

        lang = current_lang()
    ar, en = label_table().get(tag_key(tag), ("", ""))
    first, second = (ar, en) if lang == "ar" else (en, ar)
    return first or second or readable(tag)


def tag_labels(tags: Iterable[str]) -> dict[str, dict[str, str]]:
    """``{tag: {"ar": label, "en": label}}`` for the open-data API (the tags themselves are unchanged)."""
    return {t: {"ar": tag_label(t, "ar"), "en": tag_label(t, "en")} for t in tags}
