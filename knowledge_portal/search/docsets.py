"""Which documents a query matches, as sets of document numbers, without scoring them.

A search page needs two different things from the matches of a query: the ten
best (scored, ranked) and, for the total and the facet counts, *which* documents
match at all. whoosh computes the second only by collecting and scoring every
match (``groupedby`` turns off its top-k shortcuts), in Python, one matcher call
per posting and per field: at 10k documents, a query of common words spent most
of its time there. Here each term's posting list is read block by block (the
document numbers of a block are one delta-encoded tuple, decoded in C by
``itertools.accumulate``) into Python sets, and a query's matches are set
unions (a word's fields) and intersections (all the words) done in C. The
same decoded lists (:class:`Postings`, one per search) then rank the matches
(:func:`.scoring.top_scored`).

Document numbers are the searcher's (global) numbers: a segment's numbers plus
its offset. Deleted documents never appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import accumulate, repeat
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

#: One way a query word matches: all of ``terms`` (usually one) in ``field``, the score times ``boost``.
Alternative = tuple[str, tuple[str, ...], float]


#: One segment's part of a posting list: the segment's offset, its document numbers, their weights.
Segment = tuple[int, list[int], list[float]]


def _decode(matcher: Any) -> tuple[list[int], list[float]]:
    """Document numbers and weights of a fresh posting matcher of one segment."""
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        ids: list[int] = []
        weights: list[float] = []
        # whoosh 2.7's block layout: _data = (delta-encoded ids, weights, values);
        # weights are None (all 1.0), one float for the whole block, or one per posting
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            deltas, block_weights = matcher._data[0], matcher._data[1]
            ids.extend(accumulate(deltas))
            if block_weights is None or isinstance(block_weights, float):
                weights.extend(repeat(1.0 if block_weights is None else block_weights, len(deltas)))
            else:
                weights.extend(block_weights)
            matcher._next_block()
        return ids, weights
    ids, weights = [], []
    while matcher.is_active():  # inline postings, or a segment with deletions (whoosh filters them out)
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return ids, weights


class Postings:
    """The posting lists of one search, each read and decoded once: the
    matching (:func:`word_docs`) and the scoring (:func:`.scoring.top_scored`)
    need the same lists."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self._lists: dict[tuple[str, str], list[Segment]] = {}

    def segments(self, field: str, term: str) -> list[Segment]:
        """Per segment holding ``term`` in ``field``: (offset, document numbers, weights)."""
        key = (field, term)
        found = self._lists.get(key)
        if found is None:
            found = []
            for leaf, offset in self.searcher.leaf_searchers():
                try:
                    matcher = leaf.reader().postings(field, term)
                except TermNotFound:
                    continue
                found.append((offset, *_decode(matcher)))
            self._lists[key] = found
        return found

    def docs(self, field: str, term: str) -> set[int]:
        """The live documents with ``term`` in ``field``."""
        out: set[int] = set()
        for offset, ids, _weights in self.segments(field, term):
            out.update(map(offset.__add__, ids) if offset else ids)
        return out


def word_docs(postings: Postings, alternatives: Iterable[Alternative]) -> set[int]:
    """The documents one query word matches: any alternative, each needing all its terms."""
    out: set[int] = set()
    for field, terms, _boost in alternatives:
        docs = postings.docs(field, terms[0])
        for term in terms[1:]:
            docs &= postings.docs(field, term)
        out |= docs
    return out


def live_docs(searcher: Searcher) -> set[int]:
    """Every document that is not deleted."""
    out: set[int] = set()
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        ids = reader.all_doc_ids() if reader.has_deletions() else range(reader.doc_count_all())
        out.update(map(offset.__add__, ids) if offset else ids)
    return out
