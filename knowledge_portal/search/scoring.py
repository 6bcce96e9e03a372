"""whoosh's BM25F, with each segment's field lengths read once instead of once per scored posting.

BM25F needs the length of the field of every document it scores; whoosh reads
it from the segment's lengths file on every call (a seek, a read and an unpack,
about three quarters of the time of scoring one posting). Segments are
immutable, so each (segment, field) list of lengths is read once and cached by
segment id. Scores are exactly whoosh's: the same formula, the same lengths.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from whoosh.scoring import BM25F, BM25FScorer

_CACHE_FIELDS = 256
_cache: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()
_cache_lock = threading.Lock()


def field_lengths(reader: Any, fieldname: str) -> list[Any] | None:
    """Per document number of one segment, what ``reader.doc_field_length(d,
    fieldname, 1)`` says (None when ``reader`` is not a single segment)."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    if segment is None:
        return None
    key = (segment.segment_id(), fieldname)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    read = reader.doc_field_length
    lengths = [read(d, fieldname, 1) for d in range(reader.doc_count_all())]
    with _cache_lock:
        _cache[key] = lengths
        while len(_cache) > _CACHE_FIELDS:
            _cache.popitem(last=False)
    return lengths


class CachedLengthsBM25F(BM25F):  # type: ignore[misc]
    """BM25F (whoosh's defaults, B=0.75, K1=1.2) reading field lengths from :func:`field_lengths`."""

    def scorer(self, searcher: Any, fieldname: str, text: Any, qf: float = 1) -> Any:
        scorer = super().scorer(searcher, fieldname, text, qf=qf)
        if isinstance(scorer, BM25FScorer):
            lengths = field_lengths(searcher.reader(), fieldname)
            if lengths is not None:
                scorer.dfl = lengths.__getitem__
        return scorer
