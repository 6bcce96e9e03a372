"""Full-text search over best practices, behind a small engine-neutral interface.

The portal talks only to :class:`SearchBackend`; the whoosh implementation is
one backend among possible others (PostgreSQL FTS, OpenSearch), so the engine
can be swapped without touching views. Documents and results are plain frozen
dataclasses (``search.interface``).
"""

from __future__ import annotations

from pathlib import Path

from .interface import Hit, Lang, PracticeDoc, SearchBackend, SearchQuery, SearchResults, Sort

__all__ = ["Hit", "Lang", "PracticeDoc", "SearchBackend", "SearchQuery", "SearchResults", "Sort", "open_backend"]


def open_backend(index_dir: Path) -> SearchBackend:
    """The default backend: an on-disk whoosh index in ``index_dir``."""
    from .whoosh_backend import WhooshBackend

    return WhooshBackend(index_dir)
