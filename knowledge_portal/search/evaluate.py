"""Search quality on a judged query set: precision at 1 and mean reciprocal rank.

``judged_queries.json`` (next to this module) lists queries written the way
people type them (hamza and teh-marbuta variants, with or without the article
or a conjunction, plurals, diacritics, tatweel, misspellings, English
inflections), each with the ids of the documents that answer it in the test
corpus ``tests/portal/search/corpus.jsonl``.

:class:`StandardAnalyzerBackend` is the comparison point: the same schema and
query construction, but whoosh's plain ``StandardAnalyzer`` on every text
field. Run ``python -m knowledge_portal.search.evaluate CORPUS.jsonl`` to print
both backends' figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from whoosh.analysis import Analyzer, StandardAnalyzer

from .interface import Lang, PracticeDoc, SearchBackend, SearchQuery
from .whoosh_backend import WhooshBackend

JUDGED_PATH = Path(__file__).with_name("judged_queries.json")
#: Ranks beyond this count as "not found" (reciprocal rank 0).
DEPTH = 10


class StandardAnalyzerBackend(WhooshBackend):
    """Baseline: :class:`WhooshBackend` with ``StandardAnalyzer`` for all text."""

    def text_analyzers(self) -> dict[Lang, Analyzer]:
        return {"ar": StandardAnalyzer(), "en": StandardAnalyzer()}


@dataclass(frozen=True)
class Judged:
    """One query and the ids of the documents that answer it."""

    q: str
    lang: Lang
    relevant: frozenset[str]
    kind: str = ""


@dataclass(frozen=True)
class Quality:
    """Aggregate figures plus each query's rank of its first relevant hit (0: none)."""

    p_at_1: float
    mrr: float
    n: int
    ranks: tuple[tuple[str, int], ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "p_at_1": round(self.p_at_1, 4),
            "mrr": round(self.mrr, 4),
            "n": self.n,
            "misses": [q for q, r in self.ranks if r != 1],
        }


def load_corpus(path: Path) -> list[PracticeDoc]:
    """Read a JSONL file of :class:`PracticeDoc` fields (``published`` ISO date)."""
    docs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        raw["tags"] = tuple(raw.get("tags") or ())
        published = raw.get("published")
        raw["published"] = date.fromisoformat(published) if published else None
        docs.append(PracticeDoc(**raw))
    return docs


def load_judged(path: Path = JUDGED_PATH) -> list[Judged]:
    """Read the judged query set."""
    return [
        Judged(q=j["q"], lang=j["lang"], relevant=frozenset(j["relevant"]), kind=j.get("kind", ""))
        for j in json.loads(Path(path).read_text(encoding="utf-8"))
    ]


def first_relevant_rank(backend: SearchBackend, judged: Judged) -> int:
    """1-based rank of the first relevant document in the top :data:`DEPTH`, 0 if none."""
    results = backend.search(SearchQuery(q=judged.q, lang=judged.lang, per_page=DEPTH))
    for rank, hit in enumerate(results.hits, start=1):
        if hit.id in judged.relevant:
            return rank
    return 0


def evaluate(backend: SearchBackend, judged: Sequence[Judged]) -> Quality:
    """P@1 and MRR of ``backend`` over ``judged``."""
    ranks = tuple((j.q, first_relevant_rank(backend, j)) for j in judged)
    n = len(ranks)
    p1 = sum(1 for _, r in ranks if r == 1) / n if n else 0.0
    mrr = sum(1.0 / r for _, r in ranks if r) / n if n else 0.0
    return Quality(p_at_1=p1, mrr=mrr, n=n, ranks=ranks)


#: The backends compared: ours and the baseline.
BACKENDS: dict[str, type[WhooshBackend]] = {
    "arabic": WhooshBackend,
    "standard": StandardAnalyzerBackend,
}


def build_all(docs: Iterable[PracticeDoc], workdir: Path) -> dict[str, WhooshBackend]:
    """Each of :data:`BACKENDS` with ``docs`` indexed under ``workdir/<name>``."""
    docs = list(docs)
    built = {}
    for name, cls in BACKENDS.items():
        built[name] = cls(workdir / name)
        built[name].rebuild(docs)
    return built


def compare(docs: Iterable[PracticeDoc], judged: Sequence[Judged], workdir: Path) -> dict[str, Quality]:
    """Index ``docs`` with both backends under ``workdir`` and evaluate each."""
    return {name: evaluate(b, judged) for name, b in build_all(docs, workdir).items()}


def main(argv: list[str] | None = None) -> int:
    """Print P@1/MRR of our analyzers and of the StandardAnalyzer baseline."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--judged", type=Path, default=JUDGED_PATH)
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = compare(load_corpus(args.corpus), load_judged(args.judged), Path(tmp))
    for name, quality in results.items():
        print(f"{name:9s} P@1={quality.p_at_1:.3f} MRR={quality.mrr:.3f} (n={quality.n})")
        if args.verbose:
            for q, rank in quality.ranks:
                if rank != 1:
                    print(f"    rank {rank or '-'}: {q}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
