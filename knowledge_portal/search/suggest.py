"""The "did you mean" suggestion: the words of a query that no field knows
are replaced by the nearest words of the indexed vocabulary.

The vocabulary is the ``surface`` field: every word of the documents as a
``normalised|written`` term (normalised and lowercased, not stemmed, then the
word as written, without marks). A query word is corrected to the nearest
normalised word by edit distance, shown in its commonest written form.
(There was a separate ``spell`` field of the normalised words alone: one term
per document and word twice over, a third of all the postings a rebuild writes,
for what the ``surface`` terms' prefixes already say.) Whether the correction is
worth showing (it finds more documents) is the caller's decision, through
``count``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whoosh.searching import Searcher
from whoosh.support.levenshtein import distance

from .arabic import spelling_analyzer

#: The field of ``normalised|written`` word forms, see :func:`.arabic.surface_analyzer`.
SURFACE = "surface"
_spelling = spelling_analyzer()


def suggest(
    searcher: Searcher, text: str, *, text_fields: list[str], count: Callable[[str], int], current: int
) -> str | None:
    """``text`` with its unknown words corrected, if ``count`` of the
    corrected text exceeds ``current`` (the count of ``text``); else None."""
    reader = searcher.reader()
    fixes: list[tuple[int, int, str]] = []
    for tok in _spelling(text, chars=True):
        word = tok.text
        if len(word) < 3 or word.isdigit() or is_known(searcher, word, text_fields):
            continue
        best = closest(reader, word)
        if best is not None:
            fixes.append((tok.startchar, tok.endchar, written_form(reader, best)))
    if not fixes:
        return None
    corrected = text
    for start, end, replacement in reversed(fixes):
        corrected = corrected[:start] + replacement + corrected[end:]
    return corrected if count(corrected) > current else None


def is_known(searcher: Searcher, word: str, text_fields: list[str]) -> bool:
    """Whether ``word`` (normalised) is indexed as typed, or matches a text
    field once analysed (so ``التعافى`` is known through ``للتعافي``)."""
    reader = searcher.reader()
    if _forms(reader, word):
        return True
    return any(
        reader.doc_frequency(field, tok.text) > 0
        for field in text_fields
        for tok in searcher.schema[field].analyzer(word)
    )


def closest(reader: Any, word: str) -> str | None:
    """Nearest vocabulary word by edit distance (1, then 2 for words longer
    than four letters), the most frequent among equally near ones."""
    dists = (1, 2) if len(word) > 4 else (1,)
    candidates = _candidates(reader, word, dists[-1])
    for dist in dists:
        near = [w for w in candidates if w != word and distance(w, word, limit=dist) <= dist]
        if near:
            return max(near, key=lambda w: (sum(n for _, n in _forms(reader, w)), w))
    return None


def _forms(reader: Any, normalised: str) -> list[tuple[str, int]]:
    """The written forms of a normalised word with their document frequencies
    (empty: no document has the word)."""
    out = []
    for term in reader.expand_prefix(SURFACE, normalised + "|"):
        term = term.decode("utf-8") if isinstance(term, bytes) else term
        n = reader.doc_frequency(SURFACE, term)
        if n > 0:
            out.append((term.split("|", 1)[1], n))
    return out


def _candidates(reader: Any, word: str, maxdist: int) -> list[str]:
    """Vocabulary words that may lie within ``maxdist`` edits of ``word``.

    ``reader.terms_within`` runs the pure-Python edit distance on every word of
    the vocabulary (most of a misspelled query's time on a large index). Two
    checks done in C discard nearly all of them first: the lengths differ by
    at most ``maxdist``, and the sets of letters differ by at most two per edit
    (an insertion or deletion changes the set by at most one letter, a
    substitution or transposition by at most two).
    """
    letters = set(word)
    low, high = len(word) - maxdist, len(word) + maxdist
    out = []
    last = None
    for btext in reader.lexicon(SURFACE):
        term = (btext.decode("utf-8") if isinstance(btext, bytes) else btext).split("|", 1)[0]
        if term != last and low <= len(term) <= high and len(letters.symmetric_difference(term)) <= 2 * maxdist:
            out.append(term)
        last = term
    return out


def written_form(reader: Any, normalised: str) -> str:
    """The commonest written form of a normalised word (with its ة, أ ...)."""
    best, best_n = normalised, 0
    for form, n in _forms(reader, normalised):
        if n > best_n:
            best, best_n = form, n
    return best
