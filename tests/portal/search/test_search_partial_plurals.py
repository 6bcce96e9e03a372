"""Search that does not come back empty when it should not: partial matches ranked by how many words
they contain (and flagged), and broken plurals of government vocabulary meeting their singulars."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from knowledge_portal.search import PracticeDoc, SearchQuery
from knowledge_portal.search.arabic import BROKEN_PLURALS, light_stem, normalize
from knowledge_portal.search.whoosh_backend import WhooshBackend

MakeDoc = Callable[..., PracticeDoc]


def _stem(word: str) -> str:
    return light_stem(normalize(word))


@pytest.mark.parametrize(
    "plural,singular",
    [
        ("مشاريع", "مشروع"),
        ("أنظمة", "نظام"),
        ("وثائق", "وثيقة"),
        ("رسوم", "رسم"),
        ("المشاريع", "المشروع"),
        ("والأنظمة", "نظام"),
        ("بالوثائق", "الوثيقة"),
        ("الرسوم", "رسم"),
    ],
)
def test_named_broken_plurals_meet_their_singulars(plural: str, singular: str) -> None:
    assert _stem(plural) == _stem(singular)


def test_every_listed_broken_plural_meets_its_singular() -> None:
    assert len(BROKEN_PLURALS) >= 40
    assert not {normalize(s) for s in BROKEN_PLURALS.values()} & {normalize(p) for p in BROKEN_PLURALS}
    for plural, singular in BROKEN_PLURALS.items():
        assert _stem(plural) == _stem(singular), (plural, singular)
        assert _stem("ال" + plural) == _stem(singular), plural


def test_broken_plurals_do_not_merge_unrelated_words() -> None:
    assert _stem("نظام") != _stem("نظيف")
    assert _stem("رسوم") != _stem("رسائل")
    assert _stem("مشاريع") != _stem("مشاركة")


def test_search_finds_singular_documents_from_a_broken_plural(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.index(make_doc(id="a", title_ar="مشروع ربط نظام الجوازات", body_ar="وثيقة السفر ورسم الإصدار"))
    backend.index(make_doc(id="b", title_ar="خدمة أخرى", body_ar="نص لا علاقة له"))
    for q in ("مشاريع", "الأنظمة", "الوثائق", "رسوم"):
        assert [h.id for h in backend.search(SearchQuery(q=q)).hits] == ["a"], q


def test_partial_match_ranks_documents_with_most_words_and_is_flagged(
    backend: WhooshBackend, make_doc: MakeDoc
) -> None:
    backend.index(make_doc(id="two", title_ar="بوابة الدفع الإلكتروني", body_ar="نص"))
    backend.index(make_doc(id="one-a", title_ar="الدفع النقدي في المكاتب", body_ar="نص"))
    backend.index(make_doc(id="one-b", title_ar="الخدمات الإلكترونية", body_ar="نص"))
    results = backend.search(SearchQuery(q="الدفع الإلكتروني قيثارة"))
    assert results.partial is True
    assert results.total == 3 and results.hits[0].id == "two"
    exact = backend.search(SearchQuery(q="الدفع الإلكتروني"))
    assert exact.partial is False and [h.id for h in exact.hits] == ["two"]


def test_partial_results_page_consistently(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    for i in range(5):
        backend.index(make_doc(id=f"d{i}", title_ar="بوابة الدفع" if i % 2 else "الدفع", body_ar="نص"))
    first = backend.search(SearchQuery(q="بوابة الدفع قيثارة", per_page=2, page=1))
    rest = [backend.search(SearchQuery(q="بوابة الدفع قيثارة", per_page=2, page=p)) for p in (2, 3)]
    seen = [h.id for r in [first, *rest] for h in r.hits]
    assert sorted(seen) == [f"d{i}" for i in range(5)]
    assert seen[:2] == ["d1", "d3"]  # both words first
