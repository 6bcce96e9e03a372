"""BM25F scoring: whoosh's, with cached field lengths, and a top-k over a known set of matches.

BM25F needs the length of the field of every document it scores; whoosh reads
it from the segment's lengths file on every call (a seek, a read and an unpack,
about three quarters of the time of scoring one posting). Segments are
immutable, so each (segment, field) list of lengths is read once and cached by
segment id (:class:`CachedLengthsBM25F`).

:func:`top_scored` ranks a set of documents already known to match (from
:mod:`.docsets`): whoosh's own top-k spends most of its time *finding* the
matches of an AND of per-word ORs over eight fields (a Python call per
sub-matcher per candidate document); here each query term's posting blocks are
read once and only the known matches are scored, with whoosh's formula, IDF,
average lengths, boosts and tie-break (lower document number first).
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from whoosh.scoring import BM25F, BM25FScorer

from .docsets import Alternative, Postings

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


def top_scored(
    postings: Postings, words: Sequence[Sequence[Alternative]], docs: set[int], limit: int
) -> list[tuple[float, int]] | None:
    """The best ``limit`` of ``docs`` as (score, document number), best first,
    scored as whoosh scores an AND (or OR) of per-word ORs of boosted terms:
    the sum, over the query terms a document has, of boost × BM25F. None when
    the plan is not made of single terms or the weighting is not BM25F (the
    caller then asks whoosh).

    A posting list much longer than ``docs`` is not walked in Python: its
    weights go into a dict (in C) and only the documents of ``docs`` it has
    are scored."""
    searcher = postings.searcher
    weighting = searcher.weighting
    if not isinstance(weighting, BM25F):
        return None
    readers = {offset: leaf.reader() for leaf, offset in searcher.leaf_searchers()}
    scores: dict[int, float] = {}
    get = scores.get
    k1 = weighting.K1
    for ways in words:
        for field, terms, boost in ways:
            if len(terms) != 1 or not searcher.schema[field].scorable:
                return None
            b = weighting._field_B.get(field, weighting.B)
            idf = searcher.idf(field, terms[0])
            avgfl = searcher.avg_field_length(field) or 1
            for offset, ids, weights in postings.segments(field, terms[0]):
                lengths = field_lengths(readers[offset], field)
                if lengths is None:
                    return None
                if offset == 0 and len(ids) > 2 * len(docs):
                    by_doc = dict(zip(ids, weights, strict=True))
                    pairs: Iterable[tuple[int, float]] = ((d, by_doc[d]) for d in docs & by_doc.keys())
                else:
                    pairs = zip(ids, weights, strict=True)
                for d, w in pairs:
                    g = d + offset
                    if g in docs:
                        # whoosh's bm25() and WrappingMatcher boost, in the same order of operations
                        s = idf * ((w * (k1 + 1)) / (w + k1 * ((1 - b) + b * lengths[d] / avgfl))) * boost
                        scores[g] = get(g, 0.0) + s
    return [(s, -d) for s, d in heapq.nlargest(limit, ((s, -d) for d, s in scores.items()))]
