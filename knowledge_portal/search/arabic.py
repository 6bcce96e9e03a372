"""Arabic and English text analysis for the whoosh index.

Why not whoosh's own ``lang="ar"``: it crashes, and its default tokenizer
splits a word at every haraka (diacritic), so ``الحُكومة`` becomes three
tokens. Here instead:

* :class:`ArabicTokenizer` keeps combining marks, tatweel and zero-width
  joiners inside the word, so a diacritised word stays one token whose
  character offsets cover the whole word (highlighting needs them);
* :class:`ArabicNormalizationFilter` does what Lucene's
  ``ArabicNormalizationFilter`` does (alef forms to bare alef, alef maqsura to
  yeh, teh marbuta to heh, no diacritics or tatweel) and maps Arabic-Indic
  digits to ASCII;
* :func:`light_stem` is Lucene's ``ArabicStemmer`` (Larkey's light10) with a
  more careful conjunction-waw rule and a list of protected words;
* :data:`BROKEN_PLURALS` is a curated list of broken (internal) plurals of
  common government vocabulary (مشاريع/مشروع, أنظمة/نظام, وثائق/وثيقة,
  رسوم/رسم ...), which no light stemmer can reach: once its prefix is gone, a
  listed plural is indexed and searched as its singular's stem.

Everything in this module is picklable (whoosh stores the schema, analyzers
included, in the index's table of contents).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import cache, lru_cache

import snowballstemmer
from whoosh.analysis import (
    STOP_WORDS,
    Analyzer,
    CompositeAnalyzer,
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
    Token,
)
from whoosh.fields import TEXT
from whoosh.formats import Frequency
from whoosh.system import pack_uint

# Combining marks kept inside a token: Arabic harakat and Quranic marks,
# superscript alef, generic Latin combining diacritics, ZWNJ/ZWJ and tatweel.
_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0300-\u036f\u200c\u200d\u0640"
#: A word: a letter/digit (``[^\W_]``) followed by letters, digits and marks.
#: Marks alone never make a token.
WORD_PATTERN = rf"[^\W_](?:[^\W_]|[{_MARKS}])*"

_STRIP = re.compile(rf"[{_MARKS}]")
_TRANSLATE = str.maketrans(
    {
        "\u0623": "\u0627",  # أ -> ا
        "\u0625": "\u0627",  # إ -> ا
        "\u0622": "\u0627",  # آ -> ا
        "\u0671": "\u0627",  # ٱ (wasla) -> ا
        "\u0649": "\u064a",  # ى -> ي
        "\u06cc": "\u064a",  # Persian yeh -> ي
        "\u0629": "\u0647",  # ة -> ه
        "\u06a9": "\u0643",  # keheh -> ك
        **{chr(0x0660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + i): str(i) for i in range(10)},  # Extended (Persian) digits
    }
)


def normalize(text: str) -> str:
    """Lucene-style Arabic orthographic normalisation of ``text`` (any length)."""
    return _STRIP.sub("", text).translate(_TRANSLATE)


# -- stop words ---------------------------------------------------------------

_AR_STOP_RAW = """
في من إلى الى على عن مع ب ل ك و ف أو او ثم أم بل لكن لكنّ حتى إذ إذا اذا إن أن ان
لا ما لم لن ليس قد لقد كان كانت يكون تكون كانوا هو هي هم هن هما نحن أنا أنت أنتم
هذا هذه هذان هؤلاء ذلك تلك أولئك الذي التي الذين اللذان اللتان اللواتي اللاتي
هنا هناك حيث كيف متى أين لماذا كل بعض غير سوى ضمن خلال حول بين عند عندما لدى
لدي منذ بعد قبل أمام فوق تحت دون عبر نحو أي أيضا أيضاً كما مثل وفي ومن وإلى وعلى
وعن ومع وهو وهي وهذا وهذه وقد ولا وما وكان وكانت فقد فإن وإن وأن بأن لأن كذلك
إلا الا إما أما سواء عليه عليها فيه فيها منه منها إليه إليها به بها له لها لهم
يا تم التى ذات ذو عدة
"""
#: Arabic stop words, normalised exactly as indexed tokens are.
ARABIC_STOP_WORDS: frozenset[str] = frozenset(normalize(w) for w in _AR_STOP_RAW.split())

ENGLISH_STOP_WORDS: frozenset[str] = frozenset(STOP_WORDS) | frozenset(
    {"its", "their", "into", "via", "per", "also", "than", "which", "these", "those"}
)

# -- light stemming ------------------------------------------------------------

#: Prefixes tried longest first (Lucene's list plus ``وبال``, ``ولل`` and
#: ``فلل``, which are just ``و``/``ف`` + a listed prefix); ``و`` alone is
#: handled separately by :func:`_strip_waw`.
_PREFIXES: tuple[str, ...] = ("وبال", "وال", "بال", "كال", "فال", "ولل", "فلل", "ال", "لل")
#: Suffixes in Lucene's order (normalised: ة and ية are already ه and يه),
#: each with the letters that must remain; plus the adverbial ـياً
#: (إلكترونياً, رسمياً), which needs three remaining letters (آسيا stays).
_SUFFIXES: tuple[tuple[str, int], ...] = (
    ("ها", 2),
    ("ان", 2),
    ("ات", 2),
    ("ون", 2),
    ("ين", 2),
    ("يا", 3),
    ("يه", 2),
    ("ه", 2),
    ("ي", 2),
)

#: Beginnings of common words whose first letter is a root و (وزارة "ministry",
#: وثيقة "document", وطني "national" ...): their و is never a conjunction.
WAW_ROOT_BEGINNINGS: tuple[str, ...] = tuple(
    normalize(w)
    for w in (
        "وزار وزير وثيق وثائق وثق وطن وحد وحيد وظيف وظائف وصول وصل وصف وضع وضح "
        "وعي وفق وفد وفر وقت وقف وقاي وقائ ولاد ولاي ولي وكال وكيل واجه واقع وسط "
        "وسيط وسيل وسائل وجه وجود ورش ورق ورد وارد وزن وسم"
    ).split()
)

#: Words whose endings the stemmer never strips (checked on the whole word and
#: again once the article or another prefix is gone, so البحرين, بالبحرين and
#: بحرين all index as بحرين): names whose endings look like suffixes, e.g.
#: البحرين would otherwise become بحر ("sea") and عمان would become عم.
PROTECTED_WORDS: frozenset[str] = frozenset(
    normalize(w)
    for w in ("كويت قطر عمان عُمان بحرين إمارات رياض دوحة مسقط منامة أبوظبي دبي يسّر إسكوا فواتيركم أردن يمن").split()
)


#: Loanwords whose initial ا ل is not the article (إلكتروني "electronic" is
#: written الكتروني once normalised): the article or a preposition before
#: them is removed, their own ال never is, so إلكترونية and الإلكترونية meet.
NON_ARTICLE_AL: tuple[str, ...] = ("الكترون", "الماني")
_LOAN_PREFIXES: tuple[str, ...] = ("", "وبال", "وال", "بال", "كال", "فال", "ال", "و", "ب", "ل", "ك", "ف")


def _loanword(word: str) -> str | None:
    """``word`` without its prefix if the rest is a :data:`NON_ARTICLE_AL` word."""
    for prefix in _LOAN_PREFIXES:
        if word.startswith(NON_ARTICLE_AL, len(prefix)) and word.startswith(prefix):
            return word[len(prefix) :]
    return None


def _strip_waw(word: str) -> str:
    """Drop a leading conjunction ``و`` when that is safe.

    Safe means: at least three letters remain (a triliteral root) and the word
    does not start like a common word whose ``و`` belongs to the root.
    """
    if len(word) >= 4 and word[0] == "و" and not word.startswith(WAW_ROOT_BEGINNINGS):
        return word[1:]
    return word


@lru_cache(maxsize=65536)
def light_stem(word: str) -> str:
    """Light-stem one *normalised* Arabic word; other scripts pass unchanged.

    One prefix is removed (keeping at least two letters), then each listed
    suffix once in order (keeping at least two letters), as in light10;
    protected words and the ال of loanwords are left alone.
    """
    if not word or not ("\u0621" <= word[0] <= "\u064a") or word in PROTECTED_WORDS:
        return word
    stem = _loanword(word)
    if stem is None:
        stem = word
        for prefix in _PREFIXES:
            if stem.startswith(prefix) and len(stem) >= len(prefix) + 2:
                stem = stem[len(prefix) :]
                break
        else:
            stem = _strip_waw(stem)
    if stem in PROTECTED_WORDS:
        return stem
    if stem in _BROKEN_KEYS:  # a listed broken plural: its singular's stem (no singular is itself listed)
        return _broken_plural_stems()[stem]
    for suffix, keep in _SUFFIXES:
        if stem.endswith(suffix) and len(stem) >= len(suffix) + keep:
            stem = stem[: -len(suffix)]
    return stem


#: Broken plurals of common government vocabulary and their singulars (plural: singular).
#: Why a list: a broken plural changes the word's inside (مشروع → مشاريع), so only a
#: root-based stemmer would conflate them, and root stemming merges far too much
#: (كتاب "book", مكتب "office" and كاتب "clerk" share a root). The list is small,
#: reviewed, and each pair is tested (tests/portal/search/test_search_partial_plurals.py).
#: Add a pair here when a judged query shows one missing; the index must then be
#: rebuilt (``gcc-link portal reindex``) for documents already indexed.
BROKEN_PLURALS: dict[str, str] = {
    "مشاريع": "مشروع",
    "أنظمة": "نظام",
    "وثائق": "وثيقة",
    "رسوم": "رسم",
    "أجهزة": "جهاز",
    "مراكز": "مركز",
    "قوانين": "قانون",
    "معايير": "معيار",
    "تقارير": "تقرير",
    "برامج": "برنامج",
    "مواقع": "موقع",
    "مكاتب": "مكتب",
    "وسائل": "وسيلة",
    "أعمال": "عمل",
    "موارد": "مورد",
    "مصارف": "مصرف",
    "بنوك": "بنك",
    "رخص": "رخصة",
    "تراخيص": "ترخيص",
    "عقود": "عقد",
    "مدارس": "مدرسة",
    "مشاكل": "مشكلة",
    "فرص": "فرصة",
    "أسواق": "سوق",
    "طرق": "طريق",
    "مراحل": "مرحلة",
    "نماذج": "نموذج",
    "أنشطة": "نشاط",
    "منافذ": "منفذ",
    "مواعيد": "موعد",
    "قروض": "قرض",
    "أسر": "أسرة",
    "عمال": "عامل",
    "لوائح": "لائحة",
    "مناطق": "منطقة",
    "مدن": "مدينة",
    "شروط": "شرط",
    "مصادر": "مصدر",
    "مبان": "مبنى",
    "مباني": "مبنى",
    "خطط": "خطة",
    "أدلة": "دليل",
    "حلول": "حل",
    "أهداف": "هدف",
    "أمور": "أمر",
    "مؤشرات": "مؤشر",
    "مهام": "مهمة",
    "موظفو": "موظف",
    "شوارع": "شارع",
    "مستشفيات": "مستشفى",
    "دوائر": "دائرة",
    "هيئات": "هيئة",
    "بطاقات": "بطاقة",
    "ضرائب": "ضريبة",
    "جوازات": "جواز",
    "سجلات": "سجل",
    "أنماط": "نمط",
    "أقسام": "قسم",
    "أسماء": "اسم",
    "أرقام": "رقم",
}


_BROKEN_KEYS: frozenset[str] = frozenset()  # filled below, once normalize and the list exist


@cache
def _broken_plural_stems() -> dict[str, str]:
    """Normalised plural (without prefix) → the stem its singular gets (computed once)."""
    return {normalize(plural): light_stem(normalize(singular)) for plural, singular in BROKEN_PLURALS.items()}


_BROKEN_KEYS = frozenset(normalize(p) for p in BROKEN_PLURALS)

_english = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def english_stem(word: str) -> str:
    """Snowball (Porter2) English stem of an ASCII word; other words unchanged."""
    if word.isascii() and word.isalpha():
        return _english.stemWord(word)
    return word


# -- whoosh components ---------------------------------------------------------


class ArabicTokenizer(RegexTokenizer):
    """Splits on anything that is not a letter/digit, but keeps diacritics,
    tatweel and zero-width joiners inside words (no split at a haraka)."""

    def __init__(self) -> None:
        super().__init__(expression=WORD_PATTERN, gaps=False)


class ArabicNormalizationFilter(Filter):
    """Applies :func:`normalize` to each token and drops tokens left empty."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            t.text = normalize(t.text)
            if t.text:
                yield t


class SurfaceFilter(Filter):
    """Rewrites each token as ``normalised|surface`` (surface = lowercased, no
    marks), so the spelling corrector can show a correction in its usual
    spelling (``الإلكترونية``) rather than its normalised key (``الالكترونيه``)."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            surface = _STRIP.sub("", t.text)
            if surface:
                t.text = f"{normalize(surface)}|{surface}"
                yield t


# -- the same analysis, one word at a time (indexing's fast path) ----------------------
#
# Each analyzer below is a token pipeline (whoosh needs tokens with positions and
# character offsets for queries and highlighting), but what it does to one word
# never depends on the words around it: lowercase, normalise, drop stop words,
# stem. So indexing, which only needs each term and its count, runs the regular
# expression once over the text and maps every word through a memoised function
# of the word: a text's common words cost one dictionary lookup each, instead of
# a trip through five generators. Each ``*_term`` function must give exactly
# what its analyzer's pipeline gives for that one word (tests/portal/search/
# test_search_analyzer.py checks them on the whole test corpus).

#: Distinct words memoised per analyzer (about 100 bytes each).
WORD_MEMO = 1 << 17
_find_words = re.compile(WORD_PATTERN).findall


#: What one word becomes in an analyzer: None (dropped), or its text and whether it is a stop word.
WordToken = tuple[str, bool] | None


@lru_cache(maxsize=WORD_MEMO)
def arabic_token(word: str) -> WordToken:
    """One word through :func:`arabic_analyzer`: a stop word keeps its
    normalised text (shown only when stop words are kept), others are stemmed."""
    text = normalize(word.lower())
    if not text:
        return None
    return (text, True) if text in ARABIC_STOP_WORDS else (light_stem(text), False)


@lru_cache(maxsize=WORD_MEMO)
def english_token(word: str) -> WordToken:
    """One word through :func:`english_analyzer` (see :func:`arabic_token`)."""
    text = normalize(word.lower())
    if not text:
        return None
    return (text, True) if text in ENGLISH_STOP_WORDS else (english_stem(text), False)


@lru_cache(maxsize=WORD_MEMO)
def spelling_token(word: str) -> WordToken:
    """One word through :func:`spelling_analyzer` (no stop words)."""
    text = normalize(word.lower())
    return (text, False) if text else None


@lru_cache(maxsize=WORD_MEMO)
def surface_token(word: str) -> WordToken:
    """One word through :func:`surface_analyzer`: ``normalised|surface``."""
    surface = _STRIP.sub("", word.lower())
    return (f"{normalize(surface)}|{surface}", False) if surface else None


def _term(token: WordToken) -> str | None:
    return token[0] if token is not None and not token[1] else None


@lru_cache(maxsize=WORD_MEMO)
def arabic_term(word: str) -> str | None:
    """The term :func:`arabic_analyzer` indexes for one word (None: a stop word)."""
    return _term(arabic_token(word))


@lru_cache(maxsize=WORD_MEMO)
def english_term(word: str) -> str | None:
    """The term :func:`english_analyzer` indexes for one word (None: a stop word)."""
    return _term(english_token(word))


@lru_cache(maxsize=WORD_MEMO)
def spelling_term(word: str) -> str | None:
    """The term :func:`spelling_analyzer` indexes for one word."""
    return _term(spelling_token(word))


@lru_cache(maxsize=WORD_MEMO)
def surface_term(word: str) -> str | None:
    """The ``normalised|surface`` term :func:`surface_analyzer` indexes for one word."""
    return _term(surface_token(word))


#: Per ``term_of`` (the attribute pickled with each analyzer in an index's
#: schema, so indexes built before this table still find it): the per-word
#: token function, and whether the pipeline has a StopFilter (which renumbers
#: the positions of the words it keeps).
_TOKEN_OF: dict[Callable[[str], str | None], tuple[Callable[[str], WordToken], bool]] = {
    arabic_term: (arabic_token, True),
    english_term: (english_token, True),
    spelling_term: (spelling_token, False),
    surface_term: (surface_token, False),
}
_find_word_matches = re.compile(WORD_PATTERN).finditer


class WordAnalyzer(CompositeAnalyzer):
    """A token pipeline that also knows its per-word function ``term_of``, so
    :meth:`terms` gives the pipeline's index terms without making tokens, and
    calling it (queries, highlighting) makes each token in one step from the
    memoised word, instead of passing it through five generators."""

    def __init__(self, *items: Analyzer | Filter, term_of: Callable[[str], str | None]) -> None:
        super().__init__(*items)
        self.term_of = term_of

    def terms(self, text: str) -> list[str]:
        """The terms the pipeline yields for ``text`` in index mode, in order."""
        term_of = self.term_of
        return [t for t in map(term_of, _find_words(text)) if t]

    def __call__(  # type: ignore[override]
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        fast = _TOKEN_OF.get(self.term_of)
        kwargs.pop("boosts", None)  # every token's boost is 1.0 either way
        if fast is None or kwargs or keeporiginal or not tokenize:
            return super().__call__(  # type: ignore[no-any-return]
                value,
                positions=positions,
                chars=chars,
                keeporiginal=keeporiginal,
                removestops=removestops,
                start_pos=start_pos,
                start_char=start_char,
                tokenize=tokenize,
                mode=mode,
                **kwargs,
            )
        token_of, renumber = fast
        return _word_tokens(
            value, token_of, renumber and positions, positions, chars, removestops, start_pos, start_char, mode
        )


def _word_tokens(
    value: str,
    token_of: Callable[[str], WordToken],
    renumber: bool,
    positions: bool,
    chars: bool,
    removestops: bool,
    start_pos: int,
    start_char: int,
    mode: str,
) -> Iterator[Token]:
    """The tokens of the pipeline, reproduced: the tokenizer numbers every
    word; a dropped word (nothing left once normalised) is skipped; a
    StopFilter drops stop words (or marks them ``stopped`` and leaves their
    text unstemmed when ``removestops`` is false) and renumbers the words it
    keeps from the first one's position on; one Token object is reused, as
    whoosh's tokenizers do."""
    t = Token(positions, chars, removestops=removestops, mode=mode)
    pos: int | None = None
    for i, match in enumerate(_find_word_matches(value)):
        word = token_of(match.group(0))
        if word is None:
            continue
        text, stopped = word
        if stopped and removestops:
            continue
        t.text = text
        t.boost = 1.0
        t.stopped = stopped
        if positions:
            t.pos = start_pos + i
            if renumber and not stopped:
                pos = t.pos if pos is None else pos + 1
                t.pos = pos
        if chars:
            t.startchar = start_char + match.start()
            t.endchar = start_char + match.end()
        yield t


def index_terms(analyzer: Analyzer, text: str) -> list[str]:
    """The terms ``analyzer`` indexes for ``text``: through :meth:`WordAnalyzer.terms`
    when it has one, else its token pipeline in index mode (e.g. the baseline's)."""
    terms = getattr(analyzer, "terms", None)
    if terms is not None:
        return list(terms(text))
    return [t.text for t in analyzer(text, mode="index")]


#: Encoded frequencies, shared by the postings that have them (a writer keeps them all until it commits).
_FREQ_BYTES = tuple(pack_uint(n) for n in range(256))


class WordTEXT(TEXT):
    """whoosh's ``TEXT`` field, indexed through :meth:`WordAnalyzer.terms` when
    it can be (a :class:`WordAnalyzer` and frequencies only, no positions):
    the same postings, about three times faster to compute."""

    def index(self, value: object, **kwargs: object) -> Iterator[tuple[bytes, int, float, bytes]]:
        terms = getattr(self.analyzer, "terms", None)
        if terms is None or type(self.format) is not Frequency or not isinstance(value, str):
            yield from super().index(value, **kwargs)
            return
        boost = self.format.field_boost
        for term, freq in Counter(terms(value)).items():
            yield term.encode("utf-8"), freq, freq * boost, _FREQ_BYTES[freq] if freq < 256 else pack_uint(freq)


def arabic_analyzer() -> Analyzer:
    """Analyzer for Arabic fields: tokenize, lowercase, normalise, stop, stem."""
    return WordAnalyzer(
        ArabicTokenizer(),
        LowercaseFilter(),
        ArabicNormalizationFilter(),
        StopFilter(stoplist=ARABIC_STOP_WORDS, minsize=1),
        StemFilter(stemfn=light_stem, cachesize=None),
        term_of=arabic_term,
    )


def english_analyzer() -> Analyzer:
    """Analyzer for English fields: same tokenizer (Arabic words in English
    text still work), English stop words, Snowball English stemming."""
    return WordAnalyzer(
        ArabicTokenizer(),
        LowercaseFilter(),
        ArabicNormalizationFilter(),
        StopFilter(stoplist=ENGLISH_STOP_WORDS, minsize=1),
        StemFilter(stemfn=english_stem, cachesize=None),
        term_of=english_term,
    )


def spelling_analyzer() -> Analyzer:
    """Vocabulary for "did you mean": normalised, lowercased, unstemmed words."""
    return WordAnalyzer(ArabicTokenizer(), LowercaseFilter(), ArabicNormalizationFilter(), term_of=spelling_term)


def surface_analyzer() -> Analyzer:
    """``normalised|surface`` pairs, see :class:`SurfaceFilter`."""
    return WordAnalyzer(ArabicTokenizer(), LowercaseFilter(), SurfaceFilter(), term_of=surface_term)
