"""The on-disk whoosh implementation of :class:`~knowledge_portal.search.SearchBackend`.

One index directory, shared by every process of the portal: each thread
keeps a searcher on the latest committed generation (reopened when a writer
has committed since), writers take whoosh's file lock (waiting a bounded time,
then :class:`SearchIndexBusyError`), so concurrent writers from several
processes queue instead of corrupting the index.

A search finds which documents match as sets of document numbers
(:mod:`.docsets`), counts the facets over them (:mod:`.facets`) and ranks
them with whoosh's BM25F (:mod:`.scoring`); whoosh's own searcher is used for
the sorts by date and to highlight the page's hits. "Did you mean" is in
:mod:`.suggest`, the escaping of snippets in :mod:`.snippets`.

User input is never given to whoosh's query parser: the text is cut into
words and each word becomes term queries built by the fields' own analyzers,
so quotes, parentheses, ``AND``, ``*`` or ``:`` are just characters.
"""

from __future__ import annotations

import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from itertools import chain
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import sorting
from whoosh.analysis import Analyzer
from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.highlight import ContextFragmenter
from whoosh.query import And, Every, Or, Query, Term
from whoosh.searching import Results, Searcher
from whoosh.util.filelock import try_for
from whoosh.writing import CLEAR, IndexWriter, SegmentWriter

from gcc_link.protocol.errors import GccLinkError

from .arabic import (
    ArabicTokenizer,
    WordTEXT,
    arabic_analyzer,
    english_analyzer,
    surface_analyzer,
)
from .docsets import Alternative, Postings, live_docs, word_docs
from .facets import facet_counts
from .interface import Hit, Lang, PracticeDoc, SearchQuery, SearchResults
from .scoring import CachedLengthsBM25F, top_scored
from .snippets import MarkFormatter, plain_snippet
from .suggest import suggest

LANGS: tuple[Lang, Lang] = ("ar", "en")
TEXT_PARTS = ("title", "summary", "body")
#: Searched like the text parts but not stored, so snippets never show them (tag and sector labels).
LABEL_PART = "labels"
FACETS = ("state", "sector", "year", "tag")
#: Boost of the UI language's fields over the other language's.
UI_LANG_BOOST = 2.0
MAX_QUERY_WORDS = 32
MAX_PER_PAGE = 100
#: The lock whoosh's writers take on the default index ("MAIN").
WRITE_LOCK = "MAIN_WRITELOCK"


class SearchIndexBusyError(GccLinkError):
    """Another writer held the index lock for longer than the bounded wait."""

    code = "search_index_busy"


class _FieldLengths:
    """A segment's field lengths, read once per field: whoosh's writer asks
    for the length of the document of every posting it writes, and each of
    those reads goes to the lengths file (a third of a commit's time)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._lengths: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            read = self._reader.doc_field_length
            lengths = [read(d, fieldname, default) for d in range(self._reader.doc_count_all())]
            self._lengths[fieldname] = lengths
        return lengths[docnum]


class _TermPool:
    """The postings of one writer, grouped by (field, term) as they arrive.

    whoosh's ``PostingPool`` keeps every posting as a tuple, sorts them all
    at the end, and past its memory limit pickles sorted runs to disk and
    merges them back one posting at a time: at 100k documents (24 million
    postings) reading and merging the runs was two thirds of the commit. Here
    each (field, term) has compact arrays of document numbers, weights and
    values; only the distinct keys are sorted (a few thousand), and the
    document numbers of a key arrive in increasing order (new documents and
    merged segments are numbered upwards), which is checked, not assumed.
    About 20 bytes a posting instead of about 190.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[str, bytes], tuple[array[int], array[float], list[bytes]]] = {}
        self._unordered: set[tuple[str, bytes]] = set()
        self.fieldnames: set[str] = set()

    def add(self, item: tuple[str, bytes, int, float, bytes]) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        key = (fieldname, tbytes)
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = (array("I"), array("d"), [])
            self.fieldnames.add(fieldname)
        elif docnum < entry[0][-1]:
            self._unordered.add(key)
        entry[0].append(docnum)
        entry[1].append(weight)
        entry[2].append(vbytes)

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes]]:
        """(field, term, document, weight, value) in whoosh's order: by field, term, document."""
        for key in sorted(self._keys):
            fieldname, tbytes = key
            ids, weights, values = self._keys[key]
            postings: Iterable[tuple[int, float, bytes]] = zip(ids, weights, values, strict=True)
            if key in self._unordered:
                postings = sorted(postings, key=lambda p: p[0])
            for docnum, weight, vbytes in postings:
                yield fieldname, tbytes, docnum, weight, vbytes

    def cleanup(self) -> None:
        self._keys.clear()


class _SegmentWriter(SegmentWriter):
    """whoosh's writer with postings pooled by term (:class:`_TermPool`) and
    the field lengths cached while it writes them (:class:`_FieldLengths`)."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.pool = _TermPool()

    def _flush_segment(self) -> None:
        # whoosh's own, with _FieldLengths around the per-document reader
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        self.fieldwriter.add_postings(self.schema, pdr and _FieldLengths(pdr), self.pool.iter_postings())
        self.fieldwriter.close()
        if pdr:
            pdr.close()


class _PageResults(Results):  # type: ignore[misc]
    """whoosh's results for one page of hits, remembering the query's terms per
    field: the highlighter asks for them (checking each against the index) once
    per hit and field."""

    def query_terms(self, expand: bool = False, fieldname: str | None = None) -> Any:
        memo: dict[tuple[bool, str | None], Any] = self.__dict__.setdefault("_terms_memo", {})
        key = (expand, fieldname)
        if key not in memo:
            memo[key] = super().query_terms(expand=expand, fieldname=fieldname)
        return memo[key]


@dataclass(frozen=True)
class _Plan:
    """A user query turned into whoosh queries: all words (strict) or any word."""

    strict: Query | None
    loose: Query | None
    #: Per query word, the ways it matches: (field, terms that must all be there, boost).
    words: tuple[tuple[Alternative, ...], ...] = ()


class WhooshBackend:
    """Bilingual best-practice search on a whoosh index in ``index_dir``."""

    #: Seconds a writer waits for the index lock before giving up.
    lock_timeout: float = 30.0

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._ix: Any = None
        self._word_tokenizer = ArabicTokenizer()
        self._local = threading.local()

    # -- schema -------------------------------------------------------------

    def text_analyzers(self) -> dict[Lang, Analyzer]:
        """The analyzer of each language's text fields (overridden by the baseline)."""
        return {"ar": arabic_analyzer(), "en": english_analyzer()}

    def make_schema(self) -> Schema:
        """Facet fields (sortable IDs), per-language text fields, the "did you mean" vocabulary (surface)."""
        analyzers = self.text_analyzers()
        fields: dict[str, Any] = {
            "id": ID(stored=True, unique=True),
            "state": ID(stored=True, sortable=True),
            "sector": ID(stored=True, sortable=True),
            "year": ID(stored=True, sortable=True),
            "tag": KEYWORD(stored=True, commas=True, scorable=False),
            "published": DATETIME(stored=True),
            # days since 0001-01-01, 0 when undated: newest first puts undated last
            "date_key": NUMERIC(int, sortable=True),
            "surface": WordTEXT(analyzer=surface_analyzer(), phrase=False),
        }
        # No positions (phrase=False): no query of ours is a phrase, and the
        # highlighter re-analyses the stored text; term frequencies are enough.
        for lang in LANGS:
            text = analyzers[lang]
            fields[f"title_{lang}"] = WordTEXT(analyzer=text, stored=True, field_boost=3.0, phrase=False)
            fields[f"summary_{lang}"] = WordTEXT(analyzer=text, stored=True, field_boost=1.5, phrase=False)
            fields[f"body_{lang}"] = WordTEXT(analyzer=text, stored=True, phrase=False)
            fields[f"{LABEL_PART}_{lang}"] = WordTEXT(analyzer=text, stored=False, phrase=False)
        return Schema(**fields)

    # -- index lifecycle ------------------------------------------------------

    def _index(self) -> Any:
        """The whoosh index object, opened on first use. Its ``searcher()``
        always reads the newest committed generation, so caching it is safe."""
        with self._lock:
            if self._ix is None:
                self._ix = self._open_or_create()
            return self._ix

    def _searcher(self) -> Searcher:
        """This thread's searcher on the newest committed generation: kept open
        between searches (opening one reads the table of contents and opens
        every segment's files, a tenth of a search at 10k) and replaced when a
        writer has committed since. One per thread: a searcher's files are read
        with seek-then-read and must not be shared between threads."""
        cached: Searcher | None = getattr(self._local, "searcher", None)
        if cached is not None:
            if cached.up_to_date():
                return cached
            cached.close()
        searcher = self._index().searcher(weighting=CachedLengthsBM25F())
        self._local.searcher = searcher
        return searcher

    def _current(self) -> Any:
        """The index in ``index_dir`` if it exists with our fields, else None."""
        if not whoosh_index.exists_in(str(self.index_dir)):
            return None
        ix = whoosh_index.open_dir(str(self.index_dir))
        return ix if set(ix.schema.names()) == set(self.make_schema().names()) else None

    def _open_or_create(self) -> Any:
        """Open the index; create it (empty) when missing or when it was built
        with other fields by an older version, which then needs a rebuild. The
        creation holds the writers' lock so that concurrent processes neither
        create it twice nor wipe a write in progress."""
        ix = self._current()
        if ix is not None:
            return ix
        self.index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileStorage(str(self.index_dir)).lock(WRITE_LOCK)
        if not try_for(lambda: lock.acquire(blocking=False), self.lock_timeout, 0.05):
            raise SearchIndexBusyError(f"search index {self.index_dir} is locked by another writer")
        try:
            return self._current() or whoosh_index.create_in(str(self.index_dir), self.make_schema())
        finally:
            lock.release()

    def _open_writer(self) -> IndexWriter:
        """A writer holding the index lock, waiting at most ``lock_timeout``."""
        try:
            return _SegmentWriter(self._index(), timeout=self.lock_timeout, delay=0.05)
        except whoosh_index.LockError as exc:
            raise SearchIndexBusyError(f"search index {self.index_dir} is locked by another writer") from exc

    @contextmanager
    def _writer(self) -> Iterator[IndexWriter]:
        """A locked writer that commits on success and cancels on error."""
        writer = self._open_writer()
        try:
            yield writer
        except BaseException:
            writer.cancel()
            raise
        else:
            writer.commit()

    def index(self, doc: PracticeDoc) -> None:
        """Add or replace one document (by ``id``)."""
        with self._writer() as w:
            w.update_document(**self._fields(doc))

    def remove(self, doc_id: str) -> None:
        """Remove a document; no error if absent."""
        with self._writer() as w:
            w.delete_by_term("id", doc_id)

    def rebuild(self, docs: Iterable[PracticeDoc]) -> int:
        """Replace the whole index with ``docs`` in one commit (readers see the
        old index until the new one is complete); returns how many were indexed."""
        latest = {doc.id: doc for doc in docs}  # a repeated id: the last one wins
        writer = self._open_writer()
        try:
            for doc in latest.values():
                writer.add_document(**self._fields(doc))
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=CLEAR)
        return len(latest)

    @staticmethod
    def _fields(doc: PracticeDoc) -> dict[str, Any]:
        """The whoosh document for ``doc`` (absent values are left out)."""
        fields: dict[str, Any] = {
            "id": doc.id,
            "sector": doc.sector,
            "year": str(doc.year),
        }
        if doc.state:
            fields["state"] = doc.state
        tags = [t.replace(",", " ").strip() for t in doc.tags]
        if any(tags):
            fields["tag"] = ",".join(t for t in tags if t)
        fields["date_key"] = doc.published.toordinal() if doc.published else 0
        if doc.published is not None:
            fields["published"] = datetime.combine(doc.published, time())
        texts = []
        for lang in LANGS:
            for part in TEXT_PARTS:
                value = getattr(doc, f"{part}_{lang}") or ""
                fields[f"{part}_{lang}"] = value
                texts.append(value)
        for lang in LANGS:
            labels = getattr(doc, f"{LABEL_PART}_{lang}", "") or ""
            if labels:
                fields[f"{LABEL_PART}_{lang}"] = labels
        fields["surface"] = "\n".join(texts)
        return fields

    # -- search ---------------------------------------------------------------

    def _field_boosts(self, lang: Lang) -> list[tuple[str, float]]:
        """Every text field with its query boost: the UI language counts more."""
        return [
            (f"{part}_{other}", UI_LANG_BOOST if other == lang else 1.0)
            for other in LANGS
            for part in (*TEXT_PARTS, LABEL_PART)
        ]

    def _plan(self, schema: Schema, text: str, lang: Lang) -> _Plan:
        """Plain words of ``text`` → per-word OR over fields, joined by AND
        (strict) or OR (loose). Stop words (for any field) are dropped."""
        words = [t.text for t in self._word_tokenizer(text or "")][:MAX_QUERY_WORDS]
        clauses: list[Query] = []
        word_alternatives: list[tuple[Alternative, ...]] = []
        for word in words:
            alternatives: list[Query] = []
            ways: list[Alternative] = []
            stop = False
            for field, boost in self._field_boosts(lang):
                terms = [t.text for t in schema[field].analyzer(word)]
                if not terms:
                    stop = True
                    break
                ways.append((field, tuple(terms), boost))
                if len(terms) == 1:
                    alternatives.append(Term(field, terms[0], boost=boost))
                else:
                    alternatives.append(And([Term(field, x) for x in terms], boost=boost))
            if not stop and alternatives:
                clauses.append(Or(alternatives))
                word_alternatives.append(tuple(ways))
        if not clauses:
            return _Plan(None, None)
        if len(clauses) == 1:
            return _Plan(clauses[0], clauses[0], tuple(word_alternatives))
        return _Plan(And(clauses), Or(clauses), tuple(word_alternatives))

    @staticmethod
    def _filter(query: SearchQuery) -> Query | None:
        """The facet filters of ``query`` as one whoosh query (None: no filter)."""
        terms = [
            Term(field, value)
            for field, value in (
                ("state", query.state),
                ("sector", query.sector),
                ("year", None if query.year is None else str(query.year)),
                ("tag", query.tag),
            )
            if value
        ]
        return And(terms) if terms else None

    def search(self, query: SearchQuery) -> SearchResults:
        """Run ``query``: AND of the words (falling back to OR when that finds
        nothing), filters, facets, highlighted snippets, paging and a
        "did you mean" suggestion.

        When no document has all the words, every document with any of them is
        returned, those with the most words first (then by score), and the
        results say ``partial``.

        Which documents match (the total, the facet counts) comes from sets of
        document numbers (:mod:`.docsets`, :func:`.facets.facet_counts`);
        whoosh scores only for the page's hits, through its top-k search."""
        page = max(1, int(query.page))
        per_page = min(MAX_PER_PAGE, max(1, int(query.per_page)))
        limit = page * per_page
        by_date = query.sort == "date" or not (query.q or "").strip()
        searcher = self._searcher()
        postings = Postings(searcher)
        plan = self._plan(searcher.schema, query.q, query.lang)
        filterq = self._filter(query)
        allowed = None if filterq is None else set(searcher.docs_for_query(filterq))
        by_date = by_date or plan.strict is None
        sortedby = self._date_order() if by_date else None
        if plan.strict is None:
            word_sets: list[set[int]] = []
            matched = live_docs(searcher)
        else:
            word_sets = [word_docs(postings, ways) for ways in plan.words]
            if allowed is not None:
                word_sets = [docs & allowed for docs in word_sets]
            matched = set.intersection(*word_sets)
        if allowed is not None:
            matched &= allowed
        strict_total = len(matched)
        partial = False
        ordered: list[Any] = []
        if matched and not by_date:
            ordered = self._best(postings, plan, plan.strict or Every(), limit, matched)
        elif matched:
            ordered = self._top(searcher, plan.strict or Every(), limit, allowed, sortedby)
        elif len(word_sets) > 1 and plan.loose is not None:
            words_in = Counter(chain.from_iterable(word_sets))
            matched = set(words_in)
            partial = bool(matched)
            if partial and by_date:
                ordered = self._top(searcher, plan.loose, limit, allowed, sortedby)
            elif partial:
                ordered = self._most_words_first(postings, plan, plan.loose, limit, words_in)
        hits = tuple(
            self._hit(hit, query.lang, highlight=plan.strict is not None)
            for hit in ordered[(page - 1) * per_page : limit]
        )
        facets = {name: self._facet_counts(facet_counts(searcher, name, matched), name) for name in FACETS}
        suggestion = None
        if plan.strict is not None:
            suggestion = suggest(
                searcher,
                query.q,
                text_fields=[f for f, _ in self._field_boosts(query.lang)],
                count=lambda text: self._strict_count(postings, text, query.lang, allowed),
                current=strict_total,
            )
        return SearchResults(
            total=len(matched),
            page=page,
            per_page=per_page,
            hits=hits,
            facets=facets,
            suggestion=suggestion,
            partial=partial,
        )

    @staticmethod
    def _top(searcher: Searcher, q: Query, limit: int, docs: set[int] | None, sortedby: Any) -> list[Any]:
        """whoosh's best ``limit`` hits of ``q`` (among ``docs`` unless None),
        ready to highlight. Without a sort and without facets, whoosh can skip
        the posting blocks that cannot reach the top ``limit``."""
        results = searcher.search(q, limit=limit, filter=docs, sortedby=sortedby)
        results.formatter = MarkFormatter()
        results.fragmenter = ContextFragmenter(maxchars=240, surround=60)
        # not list(results): list() asks len(), and whoosh's len() of a top-k
        # search that skipped blocks runs the whole query again to count
        return [hit for hit in results]

    def _most_words_first(
        self, postings: Postings, plan: _Plan, q: Query, limit: int, words_in: Counter[int]
    ) -> list[Any]:
        """The best ``limit`` hits of a partial match: most query words first,
        then by score, then by id. Documents are scored one group (same number
        of words) at a time, and only as many groups as the page reaches."""
        groups: dict[int, set[int]] = {}
        for doc, n in words_in.items():
            groups.setdefault(n, set()).add(doc)
        ordered: list[Any] = []
        for n in sorted(groups, reverse=True):
            if len(ordered) >= limit:
                break
            hits = self._best(postings, plan, q, limit - len(ordered), groups[n])
            ordered += sorted(hits, key=lambda h: (-h.score, h["id"]))
        return ordered

    def _best(self, postings: Postings, plan: _Plan, q: Query, limit: int, docs: set[int]) -> list[Any]:
        """The best ``limit`` of ``docs`` (all known to match ``q``) by score,
        ready to highlight: :func:`.scoring.top_scored`, or whoosh's top-k."""
        searcher = postings.searcher
        top_n = top_scored(postings, plan.words, docs, limit)
        if top_n is None:
            return self._top(searcher, q, limit, docs, None)
        results = _PageResults(searcher, q, top_n, docset=docs)
        results.formatter = MarkFormatter()
        results.fragmenter = ContextFragmenter(maxchars=240, surround=60)
        return [hit for hit in results]

    def _strict_count(self, postings: Postings, text: str, lang: Lang, allowed: set[int] | None) -> int:
        """How many documents have all the words of ``text`` (and pass the filters)."""
        plan = self._plan(postings.searcher.schema, text, lang)
        if plan.strict is None:
            return 0
        matched = set.intersection(*(word_docs(postings, ways) for ways in plan.words))
        return len(matched if allowed is None else matched & allowed)

    @staticmethod
    def _date_order() -> sorting.MultiFacet:
        """Newest first; undated documents last; ties by id for stable pages."""
        return sorting.MultiFacet([sorting.FieldFacet("date_key", reverse=True), sorting.FieldFacet("id")])

    @staticmethod
    def _facet_counts(groups: dict[Any, int], name: str) -> tuple[tuple[str, int], ...]:
        """Non-empty facet values with counts: most frequent first (years: newest first)."""
        items = [
            (k.decode("utf-8") if isinstance(k, bytes) else str(k), n)
            for k, n in groups.items()
            if k not in (None, "", b"") and n > 0
        ]
        if name == "year":
            return tuple(sorted(items, key=lambda kv: kv[0], reverse=True))
        return tuple(sorted(items, key=lambda kv: (-kv[1], kv[0])))

    def _hit(self, hit: Any, lang: Lang, *, highlight: bool) -> Hit:
        """A :class:`Hit` in the UI language (falling back to the other one)."""
        other: Lang = "en" if lang == "ar" else "ar"
        stored = hit.fields()
        title = stored.get(f"title_{lang}") or stored.get(f"title_{other}") or stored["id"]
        snippet = ""
        if highlight:
            # The passage with the most marked words, UI language first.
            for group in (
                (f"body_{lang}", f"summary_{lang}"),
                (f"body_{other}", f"summary_{other}"),
                (f"title_{lang}", f"title_{other}"),
            ):
                found = [hit.highlights(f, top=2) for f in group if stored.get(f)]
                snippet = max(found, key=lambda h: h.count("<mark>"), default="")
                if snippet:
                    break
        if not snippet:
            snippet = plain_snippet(
                stored.get(f"summary_{lang}")
                or stored.get(f"summary_{other}")
                or stored.get(f"body_{lang}")
                or stored.get(f"body_{other}")
                or ""
            )
        published = stored.get("published")
        score = hit.score if isinstance(hit.score, (int, float)) else 0.0  # sort key when by date
        return Hit(
            id=stored["id"],
            score=float(score),
            title=title,
            snippet=snippet,
            state=stored.get("state") or None,
            sector=stored.get("sector", ""),
            year=int(stored.get("year") or 0),
            published=published.date() if isinstance(published, datetime) else None,
        )
