"""Benchmark: knowledge-base search through the portal's backend against bare whoosh.

Indexes the test corpus replicated to about 1,000 documents twice: with
:class:`WhooshBackend` (Arabic/English analyzers, facets, safe highlighted
snippets, "did you mean", a fresh searcher per query) and, as the ceiling, a
bare whoosh index of the same text with ``StandardAnalyzer`` queried through
``MultifieldParser`` for the top 10 ids only. Runs the judged queries and
prints the median queries/s of each and the ratio of ours to the ceiling.
Medians over several rounds: the machines are shared and noisy.

    .venv/bin/python bench/search.py [--docs 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from whoosh import index as whoosh_index
from whoosh.analysis import StandardAnalyzer
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import MultifieldParser, OrGroup

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout, installed or not
    sys.path.insert(0, str(ROOT))

from knowledge_portal.search import PracticeDoc, SearchQuery  # noqa: E402
from knowledge_portal.search.evaluate import load_corpus, load_judged  # noqa: E402
from knowledge_portal.search.whoosh_backend import WhooshBackend  # noqa: E402

CORPUS = ROOT / "tests" / "portal" / "search" / "corpus.jsonl"
TEXT_FIELDS = [f"{part}_{lang}" for lang in ("ar", "en") for part in ("title", "summary", "body")]


def replicate(docs: list[PracticeDoc], target: int) -> list[PracticeDoc]:
    """``docs`` copied under new ids until there are about ``target`` of them."""
    out: list[PracticeDoc] = []
    copy = 0
    while len(out) < target:
        out += [replace(d, id=f"{d.id}-{copy}", year=d.year - copy % 5) for d in docs]
        copy += 1
    return out[:target]


def median_rate(run: Callable[[], int], rounds: int) -> float:
    """Median of ``rounds`` measurements of operations/s, ``run`` returning its count."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        n = run()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def bare_index(docs: list[PracticeDoc], where: Path) -> whoosh_index.Index:
    """The ceiling's index: id plus the six text fields, StandardAnalyzer, nothing else."""
    analyzer = StandardAnalyzer()
    schema = Schema(id=ID(stored=True, unique=True), **{f: TEXT(analyzer=analyzer) for f in TEXT_FIELDS})
    where.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(where), schema)
    with ix.writer() as w:
        for d in docs:
            w.add_document(id=d.id, **{f: getattr(d, f) for f in TEXT_FIELDS})
    return ix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    docs = replicate(load_corpus(CORPUS), args.docs)
    queries = load_judged()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        backend = WhooshBackend(Path(tmp) / "ours")
        backend.rebuild(docs)
        ours_index_s = time.perf_counter() - start
        start = time.perf_counter()
        ix = bare_index(docs, Path(tmp) / "bare")
        bare_index_s = time.perf_counter() - start

        def ours() -> int:
            for j in queries:
                backend.search(SearchQuery(q=j.q, lang=j.lang))
            return len(queries)

        qparser = MultifieldParser(TEXT_FIELDS, ix.schema, group=OrGroup)

        def bare() -> int:
            for j in queries:
                with ix.searcher() as s:
                    [h["id"] for h in s.search(qparser.parse(j.q), limit=10)]
            return len(queries)

        ours(), bare()  # warm caches (stemmer LRU, OS page cache)
        ours_qps = median_rate(ours, args.rounds)
        bare_qps = median_rate(bare, args.rounds)

    print(f"documents: {len(docs)}, queries per round: {len(queries)}, rounds: {args.rounds}")
    print(f"indexing   ours {len(docs) / ours_index_s:8.0f} docs/s   bare whoosh {len(docs) / bare_index_s:8.0f} docs/s")
    print(f"ceiling    bare whoosh StandardAnalyzer, top-10 ids: {bare_qps:8.1f} queries/s")
    print(f"ours       WhooshBackend.search (facets, snippets, suggestion): {ours_qps:8.1f} queries/s")
    print(f"ratio      ours / ceiling = {ours_qps / bare_qps:.2f}")


if __name__ == "__main__":
    main()
