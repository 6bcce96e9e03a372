"""Facet counts over a set of matched documents, from per-segment value maps.

For each facet field (state, sector, year, tag) a document number → values
map is built from the field's lexicon and postings once per segment and
cached by segment id: segments are immutable (a deletion only hides
documents, which then never match). Counting a query's facets is then one
pass in C over its matched document numbers (see :mod:`.docsets`), instead of
whoosh's per-match categorizers (``groupedby``), which also force it to score
every match.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from itertools import chain
from typing import Any

from whoosh.searching import Searcher

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


def facet_counts(searcher: Searcher, fieldname: str, docs: Iterable[int]) -> Counter[str]:
    """How many of ``docs`` (global document numbers) have each value of the field."""
    leaves = searcher.leaf_searchers()
    if len(leaves) == 1:
        values = cached_values(leaves[0][0].reader(), fieldname)
    else:
        values = []
        for leaf, _offset in leaves:  # offsets are the sizes of the segments before: concatenation lines up
            values.extend(cached_values(leaf.reader(), fieldname))
    return Counter(chain.from_iterable(map(values.__getitem__, docs)))
