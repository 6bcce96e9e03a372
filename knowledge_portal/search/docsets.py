"""Which documents a query matches, as sets of document numbers, without scoring them.

A search page needs two different things from the matches of a query: the ten
best (scored, ranked) and, for the total and the facet counts, *which* documents
match at all. whoosh computes the second only by collecting and scoring every
match (``groupedby`` turns off its top-k shortcuts), in Python, one matcher call
per posting and per field: at 10k documents, a query of common words spent most
of its time there. Here each term's posting list is read block by block (the
document numbers of a block are one delta-encoded tuple, decoded in C by
``itertools.accumulate``) into Python sets, and a query's matches are set
unions (a word's fields) and intersections (all the words) done in C; the ten
best are left to whoosh's top-k search, which can skip blocks.

Document numbers are the searcher's (global) numbers: a segment's numbers plus
its offset. Deleted documents never appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

#: One way a query word matches: all of ``terms`` (usually one) in ``field``, the score times ``boost``.
Alternative = tuple[str, tuple[str, ...], float]


def _matcher_ids(matcher: Any) -> Iterable[int]:
    """Every document number of a fresh posting matcher of one segment."""
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        ids: list[int] = []
        # whoosh 2.7's block layout: _data[0] holds a block's ids, delta-encoded
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            ids.extend(accumulate(matcher._data[0]))
            matcher._next_block()
        return ids
    if isinstance(matcher, ListMatcher):  # short lists are stored inline in the term info
        return list(matcher.all_ids())
    return list(matcher.all_ids())  # e.g. a segment with deletions: whoosh filters them out


def term_docs(searcher: Searcher, field: str, term: str) -> set[int]:
    """The live documents with ``term`` in ``field``."""
    out: set[int] = set()
    for leaf, offset in searcher.leaf_searchers():
        try:
            matcher = leaf.reader().postings(field, term)
        except TermNotFound:
            continue
        ids = _matcher_ids(matcher)
        out.update(map(offset.__add__, ids) if offset else ids)
    return out


def word_docs(searcher: Searcher, alternatives: Iterable[Alternative]) -> set[int]:
    """The documents one query word matches: any alternative, each needing all its terms."""
    out: set[int] = set()
    for field, terms, _boost in alternatives:
        docs = term_docs(searcher, field, terms[0])
        for term in terms[1:]:
            docs &= term_docs(searcher, field, term)
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
