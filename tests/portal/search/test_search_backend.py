"""The whoosh backend on a real on-disk index: writes, filters, facets,
highlighting, paging, sorting, suggestions and hostile input."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from knowledge_portal.search import PracticeDoc, SearchQuery, open_backend
from knowledge_portal.search.whoosh_backend import WhooshBackend

MakeDoc = Callable[..., PracticeDoc]


def ids(backend: WhooshBackend, **query: object) -> list[str]:
    return [h.id for h in backend.search(SearchQuery(per_page=100, **query)).hits]  # type: ignore[arg-type]


# -- index / remove / rebuild ---------------------------------------------------------


def test_open_backend_returns_the_whoosh_backend(tmp_path: Path) -> None:
    assert isinstance(open_backend(tmp_path / "ix"), WhooshBackend)


def test_index_then_find_and_replace_by_id(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.index(make_doc(id="a", title_ar="تجديد رخصة القيادة"))
    assert ids(backend, q="رخص") == ["a"]
    backend.index(make_doc(id="a", title_ar="حجز موعد في المستشفى"))
    assert ids(backend, q="رخص") == []
    assert ids(backend, q="المستشفيات") == ["a"]
    assert backend.search(SearchQuery(q="")).total == 1


def test_remove_is_idempotent(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.index(make_doc(id="a"))
    backend.index(make_doc(id="b"))
    backend.remove("a")
    backend.remove("a")
    backend.remove("never-indexed")
    assert ids(backend, q="") == ["b"]


def test_rebuild_replaces_everything_and_counts_unique_ids(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.index(make_doc(id="old"))
    n = backend.rebuild([make_doc(id="x"), make_doc(id="y"), make_doc(id="x", title_en="x again")])
    assert n == 2
    assert sorted(ids(backend, q="")) == ["x", "y"]
    assert backend.search(SearchQuery(q="again", lang="en")).total == 1


def test_index_is_on_disk_and_seen_by_a_second_instance(tmp_path: Path, make_doc: MakeDoc) -> None:
    WhooshBackend(tmp_path / "ix").index(make_doc(id="persisted"))
    other = WhooshBackend(tmp_path / "ix")
    assert ids(other, q="") == ["persisted"]
    other.remove("persisted")
    # the first kind of instance sees writes made through another one
    assert ids(WhooshBackend(tmp_path / "ix"), q="") == []


# -- filters and facets -------------------------------------------------------------------


def test_empty_query_returns_all_documents(corpus_backend: WhooshBackend, corpus: list[PracticeDoc]) -> None:
    assert sorted(ids(corpus_backend, q="")) == sorted(d.id for d in corpus)


@pytest.mark.parametrize(
    ("field", "value", "keep"),
    [
        ("state", "KW", lambda d: d.state == "KW"),
        ("sector", "governance", lambda d: d.sector == "governance"),
        ("year", 2016, lambda d: d.year == 2016),
        ("tag", "e-payment", lambda d: "e-payment" in d.tags),
    ],
)
def test_each_filter_keeps_exactly_the_matching_documents(
    corpus_backend: WhooshBackend, corpus: list[PracticeDoc], field: str, value: object, keep
) -> None:
    expected = sorted(d.id for d in corpus if keep(d))
    assert expected  # the corpus exercises this filter
    assert sorted(ids(corpus_backend, q="", **{field: value})) == expected


def test_filters_combine_with_a_text_query(corpus_backend: WhooshBackend) -> None:
    everywhere = set(ids(corpus_backend, q="تجديد"))
    in_kw = set(ids(corpus_backend, q="تجديد", state="KW"))
    assert in_kw and in_kw < everywhere
    assert ids(corpus_backend, q="تجديد", state="KW", year=1999) == []


def test_facet_counts_of_empty_query_match_the_corpus(corpus_backend: WhooshBackend, corpus: list[PracticeDoc]) -> None:
    facets = corpus_backend.search(SearchQuery(q="")).facets
    states: dict[str, int] = {}
    tags: dict[str, int] = {}
    for d in corpus:
        if d.state:
            states[d.state] = states.get(d.state, 0) + 1
        for t in d.tags:
            tags[t] = tags.get(t, 0) + 1
    assert dict(facets["state"]) == states
    assert dict(facets["tag"]) == tags
    assert sum(n for _, n in facets["year"]) == len(corpus)
    assert [y for y, _ in facets["year"]] == sorted({str(d.year) for d in corpus}, reverse=True)


def test_facet_counts_follow_the_query_and_agree_with_filtering(corpus_backend: WhooshBackend) -> None:
    results = corpus_backend.search(SearchQuery(q="الخدمات الإلكترونية", sector="ict"))
    assert {s for s, _ in results.facets["sector"]} == {"ict"}
    for name in ("state", "year", "tag"):
        assert results.facets[name], name
        for value, count in results.facets[name]:
            kwargs = {name: int(value) if name == "year" else value}
            filtered = corpus_backend.search(
                SearchQuery(q="الخدمات الإلكترونية", sector="ict", **kwargs)  # type: ignore[arg-type]
            )
            assert filtered.total == count, (name, value)


# -- hits, highlighting, escaping -----------------------------------------------------------


def test_hit_carries_display_fields_in_the_ui_language(corpus_backend: WhooshBackend) -> None:
    ar = corpus_backend.search(SearchQuery(q="القرض الاجتماعي", lang="ar")).hits[0]
    en = corpus_backend.search(SearchQuery(q="القرض الاجتماعي", lang="en")).hits[0]
    assert ar.id == en.id == "kw-social-loan"
    assert ar.title.startswith("القرض") and en.title.startswith("The social loan")
    assert (ar.state, ar.sector, ar.year, ar.published) == ("KW", "social", 2014, date(2014, 3, 10))
    assert ar.score > 0


def test_gcc_wide_document_has_no_state(corpus_backend: WhooshBackend) -> None:
    hit = corpus_backend.search(SearchQuery(q="البوابة الخليجية الموحدة")).hits[0]
    assert hit.id == "gcc-unified-portal" and hit.state is None


def test_snippet_marks_all_variants_of_the_matched_word(corpus_backend: WhooshBackend) -> None:
    snippet = corpus_backend.search(SearchQuery(q="الشبكه")).hits[0].snippet
    marked = re.findall(r"<mark>(.*?)</mark>", snippet)
    assert marked and all("شبك" in m for m in marked)
    assert "بالشبكة" in marked or "الشبكة" in marked


def only_marks(snippet: str) -> bool:
    """True when the only markup in ``snippet`` is <mark>…</mark>."""
    return "<" not in snippet.replace("<mark>", "").replace("</mark>", "") and ">" not in (
        snippet.replace("<mark>", "").replace("</mark>", "")
    )


def test_snippet_escapes_markup_in_documents(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.index(
        make_doc(
            id="xss",
            body_ar='تحديث <script>alert("خدمة")</script> & <img src=x onerror=alert(1)> الخدمة',
            summary_ar="<b>ملخص</b>",
        )
    )
    snippet = backend.search(SearchQuery(q="خدمة")).hits[0].snippet
    assert "<mark>" in snippet
    assert "&lt;script&gt;" in snippet and "&amp;" in snippet
    assert only_marks(snippet)
    # without a query the plain snippet is escaped too
    plain = backend.search(SearchQuery(q="")).hits[0].snippet
    assert plain == "&lt;b&gt;ملخص&lt;/b&gt;"


def test_all_corpus_snippets_are_safe(corpus_backend: WhooshBackend) -> None:
    for q in ("الخدمات", "services", "", "الكويت"):
        for hit in corpus_backend.search(SearchQuery(q=q, per_page=50)).hits:
            assert only_marks(hit.snippet)


# -- paging and sorting --------------------------------------------------------------------


def test_pages_partition_the_results(corpus_backend: WhooshBackend) -> None:
    full = corpus_backend.search(SearchQuery(q="الحكومة", per_page=100))
    assert full.total > 12
    paged: list[str] = []
    for page in range(1, full.total // 5 + 2):
        r = corpus_backend.search(SearchQuery(q="الحكومة", page=page, per_page=5))
        assert r.total == full.total and r.page == page and r.per_page == 5
        paged += [h.id for h in r.hits]
    assert paged == [h.id for h in full.hits]
    beyond = corpus_backend.search(SearchQuery(q="الحكومة", page=99, per_page=5))
    assert beyond.hits == () and beyond.total == full.total


def test_sort_by_date_is_newest_first(corpus_backend: WhooshBackend) -> None:
    hits = corpus_backend.search(SearchQuery(q="الخدمات", sort="date", per_page=100)).hits
    dates = [h.published for h in hits]
    assert len(dates) > 5 and None not in dates
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    by_relevance = [h.id for h in corpus_backend.search(SearchQuery(q="الخدمات", per_page=100)).hits]
    assert by_relevance != [h.id for h in hits]


def test_empty_query_is_sorted_by_date(corpus_backend: WhooshBackend) -> None:
    hits = corpus_backend.search(SearchQuery(q="", per_page=100)).hits
    dates = [h.published for h in hits]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]


# -- ranking -------------------------------------------------------------------------------


def test_ui_language_fields_are_boosted(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.rebuild(
        [
            make_doc(id="ar-side", body_ar="منصة GovConnect للربط", body_en="A linking platform"),
            make_doc(id="en-side", body_ar="منصة للربط", body_en="The GovConnect linking platform"),
        ]
    )
    assert ids(backend, q="GovConnect", lang="ar") == ["ar-side", "en-side"]
    assert ids(backend, q="GovConnect", lang="en") == ["en-side", "ar-side"]


def test_title_match_outranks_body_match(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.rebuild(
        [
            make_doc(id="body", title_ar="خدمة", body_ar="بوابة الدفع للرسوم"),
            make_doc(id="title", title_ar="بوابة الدفع", body_ar="خدمة للرسوم"),
        ]
    )
    assert ids(backend, q="بوابة") == ["title", "body"]


def test_english_query_works_on_the_arabic_ui(corpus_backend: WhooshBackend) -> None:
    hit = corpus_backend.search(SearchQuery(q="disaster recovery", lang="ar")).hits[0]
    assert hit.id == "jo-disaster-recovery"
    assert hit.title == "مركز عمليات مع موقع بديل للتعافي من الكوارث"


def test_all_words_required_then_any_word_as_fallback(corpus_backend: WhooshBackend) -> None:
    strict = ids(corpus_backend, q="السحابة الحكومية")
    assert strict == ["jo-gov-cloud"]  # both words: only the cloud practice
    assert ids(corpus_backend, q="السحابة زقزقزق") == ["jo-gov-cloud"]  # unknown word: fallback


# -- suggestions ---------------------------------------------------------------------------


def test_suggestion_fixes_a_misspelled_arabic_word(corpus_backend: WhooshBackend) -> None:
    r = corpus_backend.search(SearchQuery(q="التعافي من الكورث"))
    assert r.suggestion == "التعافي من الكوارث"
    assert corpus_backend.search(SearchQuery(q=r.suggestion)).total >= 1


def test_suggestion_uses_the_usual_written_form(corpus_backend: WhooshBackend) -> None:
    r = corpus_backend.search(SearchQuery(q="الحكومة الاكترونية"))
    assert r.suggestion == "الحكومة الإلكترونية"


def test_suggestion_fixes_english(corpus_backend: WhooshBackend) -> None:
    assert corpus_backend.search(SearchQuery(q="goverment cloud", lang="en")).suggestion == "government cloud"


@pytest.mark.parametrize("q", ["الحكومه الالكترونيه", "القَرْضُ الاجْتِماعِيّ", "social loans", "زقزقزقزق", ""])
def test_no_suggestion_for_correct_or_hopeless_queries(corpus_backend: WhooshBackend, q: str) -> None:
    assert corpus_backend.search(SearchQuery(q=q)).suggestion is None


# -- hostile input -------------------------------------------------------------------------

HOSTILE = [
    '"تجديد الرخص"',
    "(الخدمات",
    "الخدمات)",
    "AND",
    "OR NOT",
    "خدمة AND رخصة",
    "title_ar:خدمة",
    "*",
    "خدم*",
    "?",
    "~2",
    "[a TO z]",
    "{}",
    "^3",
    "\\",
    "'",
    '""',
    ":",
    "-",
    "+خدمة -رخصة",
    "<script>",
    "%00",
    "\x00",
    "ـــ",
    "\u064b",
    "a" * 300,
    " ".join(["خدمة"] * 200),
]


@pytest.mark.parametrize("q", HOSTILE)
def test_syntax_characters_never_raise(corpus_backend: WhooshBackend, q: str) -> None:
    for lang in ("ar", "en"):
        r = corpus_backend.search(SearchQuery(q=q, lang=lang))  # type: ignore[arg-type]
        assert r.total >= 0
        assert all(only_marks(h.snippet) for h in r.hits)


def test_syntax_is_treated_as_plain_words(corpus_backend: WhooshBackend) -> None:
    assert ids(corpus_backend, q='"تجديد" AND (الرخص)') == ids(corpus_backend, q="تجديد الرخص")
    assert ids(corpus_backend, q="state:KW") == ids(corpus_backend, q="state KW")


def test_out_of_range_paging_is_clamped(corpus_backend: WhooshBackend) -> None:
    r = corpus_backend.search(SearchQuery(q="", page=0, per_page=10_000))
    assert r.page == 1 and r.per_page == 100 and len(r.hits) == r.total


def test_undated_documents_sort_last_and_ties_by_id(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.rebuild(
        [
            make_doc(id="undated", published=None),
            make_doc(id="old", published=date(2014, 5, 1)),
            make_doc(id="new-b", published=date(2016, 5, 1)),
            make_doc(id="new-a", published=date(2016, 5, 1)),
        ]
    )
    assert ids(backend, q="") == ["new-a", "new-b", "old", "undated"]
    assert ids(backend, q="خدمة", sort="date") == ["new-a", "new-b", "old", "undated"]
    assert backend.search(SearchQuery(q="")).hits[-1].published is None


def test_tag_facet_follows_updates_and_deletions(backend: WhooshBackend, make_doc: MakeDoc) -> None:
    backend.rebuild([make_doc(id="untagged", tags=())])
    assert backend.search(SearchQuery(q="")).facets["tag"] == ()
    backend.index(make_doc(id="d", tags=("x", "y")))
    backend.index(make_doc(id="e", tags=("x",)))
    assert dict(backend.search(SearchQuery(q="")).facets["tag"]) == {"x": 2, "y": 1}
    backend.remove("e")
    backend.index(make_doc(id="d", tags=("y", "z")))
    assert dict(backend.search(SearchQuery(q="")).facets["tag"]) == {"y": 1, "z": 1}
    assert ids(backend, q="", tag="x") == []


def test_index_with_other_fields_is_replaced_by_an_empty_one(tmp_path: Path, make_doc: MakeDoc) -> None:
    from whoosh import index as whoosh_index
    from whoosh.fields import ID, Schema

    (tmp_path / "ix").mkdir()
    whoosh_index.create_in(str(tmp_path / "ix"), Schema(id=ID(stored=True)))
    backend = WhooshBackend(tmp_path / "ix")
    assert backend.search(SearchQuery(q="")).total == 0
    backend.index(make_doc(id="a"))
    assert ids(WhooshBackend(tmp_path / "ix"), q="") == ["a"]
