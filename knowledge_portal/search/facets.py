"""A multi-valued (tag) facet that does not rescan the index on every query.

whoosh's ``FieldFacet(allow_overlap=True)`` rebuilds a document → values map
from the whole lexicon and postings of the field for every search, which is
most of a query's cost on a thousand documents; term vectors avoid that but
crash on a segment where no document has a tag. Segments are immutable (a
deletion only hides documents, which then never match), so the map is built
once per segment and cached by segment id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from whoosh import sorting

_CACHE_SEGMENTS = 64
_cache: OrderedDict[tuple[str, str], list[list[str]]] = OrderedDict()
_cache_lock = threading.Lock()


def _segment_values(reader: Any, fieldname: str) -> list[list[str]]:
    """For each document number of one segment, the field's values."""
    field = reader.schema[fieldname]
    values: list[list[str]] = [[] for _ in range(reader.doc_count_all())]
    if fieldname in reader.schema and reader.doc_count_all():
        for btext in reader.lexicon(fieldname):
            text = field.from_bytes(btext)
            for docnum in reader.postings(fieldname, btext).all_ids():
                values[docnum].append(text)
    return values


def cached_values(reader: Any, fieldname: str) -> list[list[str]]:
    """:func:`_segment_values`, cached when the reader is one identified segment."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    if segment is None:
        return _segment_values(reader, fieldname)
    key = (segment.segment_id(), fieldname)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    values = _segment_values(reader, fieldname)
    with _cache_lock:
        _cache[key] = values
        while len(_cache) > _CACHE_SEGMENTS:
            _cache.popitem(last=False)
    return values


class MultiValueFacet(sorting.FacetType):
    """Counts each of a document's values (e.g. every tag) once."""

    def __init__(self, fieldname: str) -> None:
        self.fieldname = fieldname

    def categorizer(self, global_searcher: Any) -> sorting.Categorizer:
        return _MultiValueCategorizer(self.fieldname)


class _MultiValueCategorizer(sorting.Categorizer):
    allow_overlap = True

    def __init__(self, fieldname: str) -> None:
        self.fieldname = fieldname
        self._values: list[list[str]] = []

    def set_searcher(self, segment_searcher: Any, docoffset: int) -> None:
        self._values = cached_values(segment_searcher.reader(), self.fieldname)

    def keys_for(self, matcher: Any, segment_docnum: int) -> list[Any]:
        return self._values[segment_docnum] or [None]
