"""Unit tests of the Arabic/English analyzers (knowledge_portal.search.arabic)."""

from __future__ import annotations

import pickle

import pytest
from whoosh.analysis import Analyzer, CompositeAnalyzer
from whoosh.fields import TEXT

from knowledge_portal.search import PracticeDoc
from knowledge_portal.search.arabic import (
    ARABIC_STOP_WORDS,
    PROTECTED_WORDS,
    ArabicTokenizer,
    WordTEXT,
    arabic_analyzer,
    english_analyzer,
    light_stem,
    normalize,
    spelling_analyzer,
    surface_analyzer,
)

PARTS = ("title", "summary", "body", "labels")


def texts(analyzer: Analyzer, value: str) -> list[str]:
    return [t.text for t in analyzer(value)]


# -- normalisation, one rule at a time ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("أحمد", "احمد"),  # alef with hamza above
        ("إدارة", "اداره"),  # alef with hamza below (and teh marbuta)
        ("آلية", "اليه"),  # alef with madda
        ("ٱلمعرفة", "المعرفه"),  # alef wasla
        ("مستشفى", "مستشفي"),  # alef maqsura -> yeh
        ("خدمة", "خدمه"),  # teh marbuta -> heh
        ("الحُكُومَةُ", "الحكومه"),  # harakat removed
        ("موحَّد", "موحد"),  # shadda removed
        ("كتاباً", "كتابا"),  # tanween removed
        ("الخدمـــات", "الخدمات"),  # tatweel removed
        ("١٤٣٥", "1435"),  # Arabic-Indic digits
        ("۲۰۱۶", "2016"),  # extended (Persian) digits
    ],
)
def test_normalize_rule(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalize_leaves_latin_and_hamza_on_waw_and_yeh() -> None:
    assert normalize("Oman ؤ ئ") == "Oman ؤ ئ"


# -- tokenizer -------------------------------------------------------------------


def test_diacritics_stay_inside_the_token() -> None:
    value = "الحُكُومَةُ الإلكترونيّة"
    tokens = [(t.text, t.startchar, t.endchar) for t in ArabicTokenizer()(value, chars=True)]
    assert [t for t, _, _ in tokens] == ["الحُكُومَةُ", "الإلكترونيّة"]
    # offsets cover the whole diacritised word, so highlighting marks all of it
    assert value[tokens[0][1] : tokens[0][2]] == "الحُكُومَةُ"


def test_diacritised_word_is_one_normalised_token_not_fragments() -> None:
    assert texts(spelling_analyzer(), "الحُكُومَةُ") == ["الحكومه"]


def test_tokenizer_splits_on_punctuation_and_syntax_characters() -> None:
    assert [t.text for t in ArabicTokenizer()('"خدمة" AND (رخص*):x_y')] == [
        "خدمة",
        "AND",
        "رخص",
        "x",
        "y",
    ]


def test_tatweel_does_not_split_a_word() -> None:
    assert texts(spelling_analyzer(), "تـــجديد") == ["تجديد"]


# -- stop words -----------------------------------------------------------------


def test_arabic_stop_words_are_dropped() -> None:
    assert texts(arabic_analyzer(), "الخدمات في الكويت من خلال البوابة") == ["خدم", "كويت", "بواب"]


def test_stop_list_is_normalised_like_the_tokens() -> None:
    assert "الي" in ARABIC_STOP_WORDS  # written إلى in the source list
    assert texts(arabic_analyzer(), "إلى إلي الى") == []


def test_english_stop_words_are_dropped_and_stems_applied() -> None:
    assert texts(english_analyzer(), "Renewing the licences of the shops") == ["renew", "licenc", "shop"]


# -- light stemming -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("الخدمات", "خدم"),  # article + plural
        ("خدمه", "خدم"),  # singular, normalised teh marbuta
        ("والخدمات", "خدم"),  # wa + article
        ("بالشبكه", "شبك"),  # bi + article
        ("للتعافي", "تعاف"),  # lil-
        ("المواطنين", "مواطن"),  # sound masculine plural
        ("مسارات", "مسار"),
        ("خدماتها", "خدم"),  # pronoun suffix then plural
    ],
)
def test_light_stem(word: str, stem: str) -> None:
    assert light_stem(word) == stem


def test_waw_conjunction_is_stripped_when_safe() -> None:
    assert light_stem("وتطوير") == "تطوير"
    assert light_stem("ومنصه") == "منص"
    assert light_stem("منصه") == "منص"


def test_waw_is_kept_when_remainder_too_short() -> None:
    assert light_stem("وقت") == "وقت"  # "time": stripping would leave two letters


@pytest.mark.parametrize("word", ["وزاره", "وثيقه", "وطني", "وظائف", "وكاله"])
def test_waw_of_the_root_is_kept(word: str) -> None:
    assert light_stem(word).startswith("و")


def test_conjunction_before_root_waw_is_stripped_consistently() -> None:
    assert light_stem("ووزاره") == light_stem("وزاره") == "وزار"


@pytest.mark.parametrize("word", ["عمان", "قطر", "بحرين", "امارات", "فواتيركم"])
def test_protected_words_are_untouched(word: str) -> None:
    assert word in PROTECTED_WORDS
    assert light_stem(word) == word


def test_protected_word_keeps_its_ending_after_a_prefix() -> None:
    # without protection البحرين would stem to بحر ("sea")
    assert light_stem("البحرين") == light_stem("بالبحرين") == "بحرين"


def test_non_arabic_words_are_not_arabic_stemmed() -> None:
    assert light_stem("services") == "services"


def test_query_variants_meet_in_the_index() -> None:
    """Spelling and morphology variants of one phrase produce the same terms."""
    analyzer = arabic_analyzer()
    variants = ["الخدمة الإلكترونيّة", "الخدمه الالكترونيه", "والخدمات الإلكترونية", "خدمات إلكترونية"]
    assert len({tuple(texts(analyzer, v)) for v in variants}) == 1


# -- robustness and plumbing ----------------------------------------------------------

NASTY = [
    "",
    "   ",
    "\u064b\u064c\u064d",  # harakat alone
    "ـــ",  # tatweel alone
    "\u200c\u200d\ufeff",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🇰🇼 👩🏽‍💻",
    "Ω≈ç√∫˜µ≤≥÷ ǅ ﷽ ﻻ",
    "e\u0301\u0301\u0301 a\u0308",
    "\x00\x01\x7f\ud7ff",
    "١٢٣٤٥٦٧٨٩٠ 1 و",
    "\u202eالعربية\u202c RTL override",
    "ا" * 5000,
]


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("factory", [arabic_analyzer, english_analyzer, spelling_analyzer, surface_analyzer])
def test_analyzers_never_crash_and_offsets_stay_in_range(factory, value: str) -> None:
    for token in factory()(value, chars=True, positions=True):
        assert token.text
        assert 0 <= token.startchar < token.endchar <= len(value)


def test_surface_tokens_pair_normalised_and_written_forms() -> None:
    assert texts(surface_analyzer(), "الإلكترونيّة") == ["الالكترونيه|الإلكترونية"]


def test_analyzers_survive_pickling() -> None:
    """whoosh stores the schema, analyzers included, in the index."""
    analyzer = pickle.loads(pickle.dumps(arabic_analyzer()))
    assert texts(analyzer, "بالبحرين والخدمات") == ["بحرين", "خدم"]


@pytest.mark.parametrize("word", ["إلكترونية", "الإلكترونية", "بالإلكترونية", "للإلكترونية", "والإلكترونية"])
def test_alef_lam_of_a_loanword_is_not_the_article(word: str) -> None:
    assert light_stem(normalize(word)) == "الكترون"


def test_adverbial_ending_meets_the_adjective() -> None:
    assert light_stem(normalize("إلكترونياً")) == light_stem(normalize("الإلكتروني"))
    assert light_stem(normalize("رسمياً")) == light_stem(normalize("الرسمية"))
    assert light_stem("اسيا") == "اسيا"  # too short: آسيا is a name, not an adverb


def test_analyzers_survive_seeded_random_unicode() -> None:
    """A cheap stand-in for hypothesis: random code points from every plane we
    are likely to meet (Arabic blocks and presentation forms weighted up)."""
    import random

    rng = random.Random(20260521)
    ranges = [
        (0x20, 0x7F),
        (0x600, 0x6FF),
        (0x750, 0x77F),
        (0xFB50, 0xFDFF),
        (0xFE70, 0xFEFF),
        (0x300, 0x36F),
        (0x2000, 0x206F),
        (0x1F300, 0x1FAFF),
        (0x0, 0xD7FF),
        (0xE000, 0x10FFFF),
    ]
    analyzers = [arabic_analyzer(), english_analyzer(), spelling_analyzer(), surface_analyzer()]
    for _ in range(300):
        chars = []
        for _ in range(rng.randint(0, 40)):
            lo, hi = rng.choice(ranges)
            chars.append(chr(rng.randint(lo, hi)))
        value = "".join(chars)
        for analyzer in analyzers:
            for token in analyzer(value, chars=True, positions=True):
                assert token.text and 0 <= token.startchar < token.endchar <= len(value)


# -- indexing's fast path: one memoised function per word ---------------------------------


@pytest.mark.parametrize("factory", [arabic_analyzer, english_analyzer, spelling_analyzer, surface_analyzer])
def test_word_terms_equal_the_token_pipeline(factory, corpus: list[PracticeDoc]) -> None:
    """``WordAnalyzer.terms`` (what indexing uses) yields exactly the terms of
    the analyzer's token pipeline in index mode, on every text of the corpus
    and on the hostile inputs above."""
    analyzer = factory()
    values = [getattr(doc, f"{part}_{lang}") for doc in corpus for part in PARTS for lang in ("ar", "en")]
    for value in [*values, *NASTY]:
        assert analyzer.terms(value) == texts(analyzer, value), value[:80]


def test_word_text_field_indexes_like_whoosh_text(corpus: list[PracticeDoc]) -> None:
    """The fast ``WordTEXT.index`` gives whoosh's ``TEXT.index`` postings
    (term, frequency, weight, encoded frequency) for the same analyzer."""
    for doc in corpus[:10]:
        value = f"{doc.title_ar}\n{doc.body_ar}\n{doc.body_en}"
        fast = WordTEXT(analyzer=arabic_analyzer(), phrase=False, field_boost=1.5)
        slow = TEXT(analyzer=arabic_analyzer(), phrase=False, field_boost=1.5)
        assert sorted(fast.index(value)) == sorted(slow.index(value))


def test_word_analyzer_survives_pickling_with_its_memo() -> None:
    analyzer = pickle.loads(pickle.dumps(english_analyzer()))
    assert analyzer.terms("The Governments of the GCC") == ["govern", "gcc"]


@pytest.mark.parametrize("factory", [arabic_analyzer, english_analyzer, spelling_analyzer, surface_analyzer])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "query"},
        {"positions": True, "chars": True, "mode": "index", "removestops": False},  # the highlighter's call
        {"positions": True, "chars": True, "start_pos": 3, "start_char": 7},
        {"positions": True, "boosts": True, "mode": "index"},
    ],
)
def test_word_tokens_equal_the_token_pipeline(factory, kwargs: dict[str, object], corpus: list[PracticeDoc]) -> None:
    """Calling a ``WordAnalyzer`` (one memoised step per word) makes the same
    tokens as its pipeline of filters: text, position, offsets, stop flag."""

    def seen(tokens: object) -> list[tuple[object, ...]]:
        return [
            (
                t.text,
                t.stopped,
                t.boost,
                getattr(t, "pos", None),
                getattr(t, "startchar", None),
                t.endchar if t.chars else None,
            )
            for t in tokens  # type: ignore[attr-defined]
        ]

    analyzer = factory()
    values = [getattr(doc, f"{part}_{lang}") for doc in corpus[:15] for part in PARTS for lang in ("ar", "en")]
    for value in [*values, *NASTY, "في الحكومة the and من Government"]:
        assert seen(analyzer(value, **kwargs)) == seen(CompositeAnalyzer.__call__(analyzer, value, **kwargs)), value[
            :80
        ]
