"""Keeping the search index in step with published practices.

Views call :func:`sync_practice` after a moderation change: a published
practice is (re)indexed, anything else is removed. The backend is opened once
per app, through the engine-neutral interface in :mod:`knowledge_portal.search`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Practice
from .sanitize import html_to_text
from .search import PracticeDoc, SearchBackend, open_backend
from .tags import tag_labels


def init_search(app: Flask) -> None:
    """Store a lazily opened backend factory on the app."""
    app.extensions["portal_search"] = None


def get_backend(app: Flask | None = None) -> SearchBackend:
    """The app's backend, opened on first use (whoosh unless the config names a factory)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    backend = app.extensions.get("portal_search")
    if backend is None:
        index_dir = Path(app.config["SEARCH_INDEX_DIR"])
        index_dir.mkdir(parents=True, exist_ok=True)
        factory = app.config.get("SEARCH_BACKEND_FACTORY")
        if factory is None and uses_postgres_search(app):
            from .search.postgres_backend import PostgresSearchBackend

            backend = PostgresSearchBackend(app.extensions["portal_db"].engine)
        else:
            backend = (factory or open_backend)(index_dir)
        app.extensions["portal_search"] = backend
    return backend


def uses_postgres_search(app: Flask) -> bool:
    """Whether search lives in the portal's PostgreSQL database (shared by every
    portal machine) rather than in a whoosh folder on this host's disk."""
    choice = app.config.get("SEARCH_BACKEND", "auto")
    if choice == "auto":
        return str(app.config["DATABASE_URL"]).startswith(("postgresql", "postgres://"))
    return bool(choice == "postgres")


def to_doc(p: Practice) -> PracticeDoc:
    """The index's view of a practice: plain text, public identifier.

    The tags' and the sector's labels are indexed in each language's label
    field, so a reader who searches for a tag as the pages show it
    (``الهوية الرقمية``) finds it, but snippets (cut from title, summary and
    body) never show a list of labels.
    """
    from .sectors import load_sectors

    labels = list(tag_labels(p.tags or ()).values())
    sector = _sector_labels(p.sector, load_sectors)
    return PracticeDoc(
        id=p.public_id,
        state=p.state_code,
        sector=p.sector,
        year=p.year,
        tags=tuple(p.tags or ()),
        title_ar=p.title_ar,
        title_en=p.title_en,
        summary_ar=p.summary_ar,
        summary_en=p.summary_en,
        body_ar=" ".join([html_to_text(p.body_ar), _list_text(p.outcomes_ar, "؛")]),
        body_en=" ".join([html_to_text(p.body_en), _list_text(p.outcomes_en, ";")]),
        labels_ar=" \n".join([*(lb["ar"] for lb in labels), sector[0]]),
        labels_en=" \n".join([*(lb["en"] for lb in labels), sector[1]]),
        published=p.published_at.date() if p.published_at else None,
    )


_ITEM_END = re.compile(r"\s*</li>", re.IGNORECASE)


def _list_text(value: str | None, separator: str) -> str:
    """Plain text of HTML whose list items end with ``separator``, so a snippet across two items
    ("one connection to the banks; one way to pay") does not read as one run-on sentence."""
    return html_to_text(_ITEM_END.sub(separator + "</li>", value or "")).rstrip(separator + " ")


def _sector_labels(code: str, load: Any) -> tuple[str, str]:
    """The (Arabic, English) label of sector ``code`` from its record, empty when there is none."""
    from .db import get_session

    try:
        record = load(get_session()).get(code)
    except RuntimeError:  # outside an app context: no labels
        return "", ""
    return (record.label_ar, record.label_en) if record is not None else ("", "")


def search_changed(app: Flask | None = None) -> None:
    """Bump the content generation after the index changed, so no cached search page outlives it.

    The index is written after the practice's own commit (and, with whoosh,
    outside the database): a search page rendered in between would otherwise
    be cached under the new generation with the old results.
    """
    from .models import bump_generation

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    with app.extensions["portal_db"].engine.begin() as conn:
        bump_generation(conn)


def sync_practice(practice: Practice, app: Flask | None = None) -> None:
    backend = get_backend(app)
    if practice.status == "published":
        backend.index(to_doc(practice))
    else:
        backend.remove(practice.public_id)
    search_changed(app)


def reindex_all(session: Session, app: Flask | None = None) -> int:
    """Rebuild the index from every published practice; returns the count."""
    docs = [to_doc(p) for p in session.scalars(select(Practice).where(Practice.status == "published"))]
    count = get_backend(app).rebuild(docs)
    search_changed(app)
    return count


def reindex_tag(session: Session, slug: str, app: Flask | None = None) -> int:
    """Re-index the published practices carrying tag ``slug`` after its label changed; returns the count."""
    from flask import g

    from .tags import tag_key

    g.pop("_tag_labels", None)  # labels are cached per request; this request just changed one
    key = tag_key(slug)
    backend = get_backend(app)
    tagged = [
        p
        for p in session.scalars(select(Practice).where(Practice.status == "published"))
        if any(tag_key(t) == key for t in p.tags or ())
    ]
    for p in tagged:
        backend.index(to_doc(p))
    search_changed(app)
    return len(tagged)
