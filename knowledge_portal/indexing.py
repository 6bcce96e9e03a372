"""Keeping the search index in step with published practices.

Views call :func:`sync_practice` after a moderation change: a published
practice is (re)indexed, anything else is removed. The backend is opened once
per app, through the engine-neutral interface in :mod:`knowledge_portal.search`.
"""

from __future__ import annotations

from pathlib import Path

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

    The tags' labels join the body text of their language, so a reader who
    searches for a tag as the pages show it (``الهوية الرقمية``) finds it.
    """
    labels = tag_labels(p.tags or ()).values()
    return PracticeDoc(
        id=p.public_id, state=p.state_code, sector=p.sector, year=p.year, tags=tuple(p.tags or ()),
        title_ar=p.title_ar, title_en=p.title_en, summary_ar=p.summary_ar, summary_en=p.summary_en,
        body_ar=" ".join([html_to_text(p.body_ar), html_to_text(p.outcomes_ar), *(lb["ar"] for lb in labels)]),
        body_en=" ".join([html_to_text(p.body_en), html_to_text(p.outcomes_en), *(lb["en"] for lb in labels)]),
        published=p.published_at.date() if p.published_at else None,
    )


def sync_practice(practice: Practice, app: Flask | None = None) -> None:
    backend = get_backend(app)
    if practice.status == "published":
        backend.index(to_doc(practice))
    else:
        backend.remove(practice.public_id)


def reindex_all(session: Session, app: Flask | None = None) -> int:
    """Rebuild the index from every published practice; returns the count."""
    docs = [to_doc(p) for p in session.scalars(select(Practice).where(Practice.status == "published"))]
    return get_backend(app).rebuild(docs)


def reindex_tag(session: Session, slug: str, app: Flask | None = None) -> int:
    """Re-index the published practices carrying tag ``slug`` after its label changed; returns the count."""
    from flask import g

    from .tags import tag_key

    g.pop("_tag_labels", None)  # labels are cached per request; this request just changed one
    key = tag_key(slug)
    backend = get_backend(app)
    tagged = [p for p in session.scalars(select(Practice).where(Practice.status == "published"))
              if any(tag_key(t) == key for t in p.tags or ())]
    for p in tagged:
        backend.index(to_doc(p))
    return len(tagged)
