"""The whoosh backend's own matching and ranking (docsets, facets, scoring)
against whoosh's exhaustive answers, on the test corpus and every judged query.

The backend computes which documents match from posting blocks (sets), the
facet counts from per-segment value maps, and the page's ranking with its own
BM25F over the known matches; whoosh, asked to collect and score every match
(no top-k shortcuts), is the reference for all three.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from knowledge_portal.search import PracticeDoc
from knowledge_portal.search.docsets import Postings, live_docs, word_docs
from knowledge_portal.search.evaluate import load_judged
from knowledge_portal.search.facets import facet_counts
from knowledge_portal.search.scoring import CachedLengthsBM25F, top_scored
from knowledge_portal.search.whoosh_backend import WhooshBackend

JUDGED = load_judged()


@pytest.fixture(scope="module", params=["one segment", "segments with deletions"])
def whoosh_corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, corpus: list[PracticeDoc]
) -> WhooshBackend:
    """The corpus in one rebuilt segment, or written in three commits with
    documents replaced and removed (several segments, deleted documents)."""
    backend = WhooshBackend(tmp_path_factory.mktemp("docsets") / "ix")
    if request.param == "one segment":
        backend.rebuild(corpus)
    else:
        backend.rebuild(corpus[:20])
        for doc in corpus[20:]:
            backend.index(doc)
        backend.index(corpus[3])  # replaced: the old copy is deleted
        backend.remove(corpus[5].id)
        backend.remove(corpus[30].id)
    return backend


def _exhaustive(searcher, q) -> list[tuple[float, int]]:  # type: ignore[no-untyped-def]
    """whoosh's scores of every match, best first, lower document number first on ties."""
    hits = searcher.search(q, limit=None)
    return sorted(((h.score, h.docnum) for h in hits), key=lambda sd: (-sd[0], sd[1]))


@pytest.mark.parametrize("judged", JUDGED, ids=[j.q for j in JUDGED])
def test_matches_and_ranking_equal_whoosh_exhaustive(whoosh_corpus: WhooshBackend, judged) -> None:  # type: ignore[no-untyped-def]
    searcher = whoosh_corpus._index().searcher(weighting=CachedLengthsBM25F())
    try:
        plan = whoosh_corpus._plan(searcher.schema, judged.q, judged.lang)
        if plan.strict is None:
            pytest.skip("only stop words")
        postings = Postings(searcher)
        word_sets = [word_docs(postings, ways) for ways in plan.words]
        strict = set.intersection(*word_sets)
        assert strict == set(searcher.docs_for_query(plan.strict))
        loose = set.union(*word_sets)
        assert loose == set(searcher.docs_for_query(plan.loose))
        for q, docs in ((plan.strict, strict), (plan.loose, loose)):
            expected = _exhaustive(searcher, q)
            got = top_scored(postings, plan.words, docs, len(docs) or 1)
            assert got is not None
            assert [d for _, d in got] == [d for _, d in expected]
            assert [s for s, _ in got] == pytest.approx([s for s, _ in expected], rel=1e-9)
    finally:
        searcher.close()


def _values(counts: Counter[str]) -> Counter[str]:
    """Counts of real values (a document without the field counts under None)."""
    return Counter({k: n for k, n in counts.items() if k})


def test_live_docs_and_facet_counts_equal_stored_fields(whoosh_corpus: WhooshBackend) -> None:
    searcher = whoosh_corpus._index().searcher()
    try:
        live = live_docs(searcher)
        stored = {d: searcher.stored_fields(d) for d in live}
        assert sorted(f["id"] for f in stored.values()) == sorted({f["id"] for f in stored.values()})
        some = {d for d in live if d % 3}
        for name in ("state", "sector", "year"):
            expected = Counter(stored[d][name] for d in some if stored[d].get(name))
            assert _values(facet_counts(searcher, name, some)) == expected, name
        tags = Counter(t for d in some for t in (stored[d].get("tag") or "").split(",") if t)
        assert _values(facet_counts(searcher, "tag", some)) == tags
    finally:
        searcher.close()


def test_the_index_has_no_spell_field_any_more(tmp_path: Path) -> None:
    """The "did you mean" vocabulary is the surface field alone (see suggest.py)."""
    assert "spell" not in WhooshBackend(tmp_path / "ix").make_schema().names()
