"""The engine-neutral search interface: documents, queries, results and the backend protocol.

Every backend (whoosh today) implements :class:`SearchBackend` and imports
its types from here, never from the package, so the package can choose a
backend without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

Lang = Literal["ar", "en"]
Sort = Literal["relevance", "date"]


@dataclass(frozen=True)
class PracticeDoc:
    """What the index knows of one published best practice (text is plain, not HTML)."""

    id: str
    state: str | None
    sector: str
    year: int
    tags: tuple[str, ...]
    title_ar: str
    title_en: str
    summary_ar: str
    summary_en: str
    body_ar: str
    body_en: str
    published: date | None = None
    #: Labels (tags, sector) as pages show them, per language: searchable, never shown in snippets.
    labels_ar: str = ""
    labels_en: str = ""


@dataclass(frozen=True)
class SearchQuery:
    q: str
    lang: Lang = "ar"
    state: str | None = None
    sector: str | None = None
    year: int | None = None
    tag: str | None = None
    page: int = 1
    per_page: int = 10
    sort: Sort = "relevance"


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    title: str
    snippet: str  # safe HTML: escaped text with <mark> around matched terms
    state: str | None
    sector: str
    year: int
    published: date | None = None


@dataclass(frozen=True)
class SearchResults:
    total: int
    page: int
    per_page: int
    hits: tuple[Hit, ...]
    facets: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    suggestion: str | None = None  # "did you mean", None when the query looks right
    #: True when no document has all the words: the hits are those with most of them, most first
    partial: bool = False


class SearchBackend(Protocol):
    """The interface the portal uses; implementations must be safe to call per request."""

    def index(self, doc: PracticeDoc) -> None:
        """Add or replace one document (by ``id``)."""

    def remove(self, doc_id: str) -> None:
        """Remove a document; no error if absent."""

    def rebuild(self, docs: Iterable[PracticeDoc]) -> int:
        """Replace the whole index with ``docs``; returns how many were indexed."""

    def search(self, query: SearchQuery) -> SearchResults:
        """Run a query with facets, highlighting, paging and suggestions."""
