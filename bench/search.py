"""Benchmark: knowledge-base search latency on a generated bilingual corpus.

The corpus is generated from the 45 hand-written practices of the test corpus
(tests/portal/search/corpus.jsonl): each generated practice takes its title,
summary and two body paragraphs from different originals (seeded, so every
run builds the same corpus), with its own id, year, state and date. Each size
is indexed by the portal's default backend (whoosh, our analyzers, facets,
highlighted snippets, "did you mean") and the judged queries
(judged_queries.json) are run one at a time, in several rounds; the figure
is the median over rounds of each round's p99 latency. Ceiling, same index,
same run: whoosh's raw searcher returning the top 10 of the same query plan
(no facets, no snippets, no suggestion), i.e. what the engine itself costs.

Indexes are cached in ``.bench-cache/`` under a key made of the generator
settings and the source of what decides the index's content (the analyzers,
the schema, the document fields, the writer; not query-time code): the first
run builds them (the build time is printed, wall and CPU: about 700
documents per CPU-second here, 10k in ~15 CPU-s, 100k in ~140 CPU-s), later
runs reuse them. With ``--postgres`` the
PostgreSQL backend is measured too (a throwaway cluster, built each run).

    .venv/bin/python bench/search.py [--sizes 10000,100000] [--rounds 3] [--postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import time
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from common import ROOT, PostgresCluster, Row, median, percentile, pg_available, print_table

from knowledge_portal.search import PracticeDoc, SearchQuery  # noqa: E402
from knowledge_portal.search.evaluate import load_corpus, load_judged  # noqa: E402
from knowledge_portal.search.whoosh_backend import WhooshBackend  # noqa: E402

CORPUS = ROOT / "tests" / "portal" / "search" / "corpus.jsonl"
CACHE = ROOT / ".bench-cache"
STATES = ("KW", "SA", "QA", "AE", "BH", "OM", None)
SEED = 12
#: What the built index depends on (not query-time code such as suggest.py or snippets.py).
SOURCES = [ROOT / "knowledge_portal" / "search" / f for f in ("arabic.py", "interface.py")]


def generate(originals: list[PracticeDoc], n: int) -> list[PracticeDoc]:
    """``n`` practices mixed from ``originals`` (deterministic)."""
    rng = random.Random(SEED)
    out = []
    for i in range(n):
        a, b, c, d = (rng.choice(originals) for _ in range(4))
        out.append(
            replace(
                a,
                id=f"gen-{i:06d}",
                state=rng.choice(STATES),
                year=2008 + rng.randrange(10),
                summary_ar=b.summary_ar,
                summary_en=b.summary_en,
                body_ar=f"{c.body_ar}\n{d.body_ar}",
                body_en=f"{c.body_en}\n{d.body_en}",
                published=date(2008, 1, 1) + timedelta(days=rng.randrange(3650)) if rng.random() > 0.05 else None,
            )
        )
    return out


def cache_key(n: int) -> str:
    """Changes when the generated corpus or the code that indexes it changes."""
    import inspect

    from knowledge_portal.search import whoosh_backend as wb

    h = hashlib.sha256(f"{n}:{SEED}:{STATES}:{inspect.getsource(generate)}".encode())
    for src in [CORPUS, *SOURCES]:
        h.update(src.read_bytes())
    # the parts of the backend that decide what is written (its search code may change freely)
    for part in (wb.WhooshBackend.make_schema, wb.WhooshBackend._fields, wb.WhooshBackend.rebuild, wb._SegmentWriter):
        h.update(inspect.getsource(part).encode())
    return h.hexdigest()[:16]


def whoosh_index(n: int, originals: list[PracticeDoc]) -> tuple[WhooshBackend, tuple[float, float] | None]:
    """The cached whoosh index of ``n`` generated practices; (wall, CPU) build seconds if built now."""
    where = CACHE / f"search-whoosh-{n}-{cache_key(n)}"
    if (where / "complete").exists():
        return WhooshBackend(where), None
    for old in CACHE.glob(f"search-whoosh-{n}-*"):
        shutil.rmtree(old, ignore_errors=True)
    docs = generate(originals, n)
    started, cpu = time.perf_counter(), time.process_time()
    backend = WhooshBackend(where)
    backend.rebuild(docs)
    (where / "complete").write_text("ok")
    return backend, (time.perf_counter() - started, time.process_time() - cpu)


def raw_top10(backend: WhooshBackend):  # -> Callable[[Judged], None]
    """The ceiling: whoosh's own searcher, top 10 of the same plan, nothing else."""
    from whoosh.query import Every

    def run(q: str, lang: str) -> None:
        with backend._index().searcher() as s:
            plan = backend._plan(s.schema, q, lang)  # type: ignore[arg-type]
            [hit["id"] for hit in s.search(plan.strict or Every(), limit=10)]

    return run


def latencies(fn: Any, queries: list[Any]) -> list[float]:
    out = []
    for j in queries:
        t0 = time.perf_counter()
        fn(j.q, j.lang)
        out.append(time.perf_counter() - t0)
    return out


def measure(backend: Any, ceiling: Any, queries: list[Any], rounds: int) -> tuple[float, float, float]:
    """Median over rounds of p99 (ms) for ours and the ceiling, and ours' median p50."""

    def ours(q: str, lang: str) -> None:
        backend.search(SearchQuery(q=q, lang=lang))  # type: ignore[arg-type]

    warm = queries if rounds > 1 else queries[:10]
    latencies(ours, warm), latencies(ceiling, warm)  # warm: OS cache, stemmer caches, facet cache
    p99s, c99s, p50s = [], [], []
    for _ in range(rounds):
        lat = latencies(ours, queries)
        p99s.append(percentile(lat, 99) * 1000)
        p50s.append(percentile(lat, 50) * 1000)
        c99s.append(percentile(latencies(ceiling, queries), 99) * 1000)
    return median(p99s), median(c99s), median(p50s)


def run(sizes: list[int], rounds: int, postgres: bool) -> tuple[list[Row], dict[str, Any]]:
    originals = load_corpus(CORPUS)
    queries = load_judged()
    rows: list[Row] = []
    figures: dict[str, Any] = {"search_queries": len(queries)}
    goals = {10_000: 50.0, 100_000: 150.0}
    for n in sizes:
        backend, built = whoosh_index(n, originals)
        label = f"{n // 1000}k"
        if built is not None:
            wall, cpu = built
            print(
                f"search: built the whoosh index of {n} generated practices in {wall:.0f} s "
                f"({n / wall:.0f} docs/s; CPU {cpu:.0f} s, {n / cpu:.0f} docs per CPU-second), "
                f"cached in {CACHE.name}/",
                flush=True,
            )
            figures[f"search_build_s_{label}"] = round(wall, 1)
            figures[f"search_build_cpu_s_{label}"] = round(cpu, 1)
        p99, c99, p50 = measure(backend, raw_top10(backend), queries, rounds)
        goal = goals.get(n)
        rows.append(
            Row(
                f"search p99, whoosh, {label} practices",
                p99,
                "ms",
                c99,
                "raw whoosh top-10, p99 ms",
                f"< {goal:.0f} ms" if goal else "",
                (p99 < goal) if goal else None,
            )
        )
        rows.append(Row(f"search p50, whoosh, {label} practices", p50, "ms"))
        figures[f"search_p99_ms_{label}"] = round(p99, 1)
        figures[f"search_ceiling_p99_ms_{label}"] = round(c99, 1)
        figures[f"search_p50_ms_{label}"] = round(p50, 1)
    if postgres and pg_available():
        from knowledge_portal.search.postgres_backend import PostgresSearchBackend

        if True:
            cluster = PostgresCluster()
            try:
                n = min(sizes)
                pg_backend = PostgresSearchBackend(cluster.url)
                docs = generate(originals, n)
                started, cpu = time.perf_counter(), time.process_time()
                pg_backend.rebuild(docs)
                pg_built = time.perf_counter() - started
                print(
                    f"search: built the PostgreSQL index of {n} practices in {pg_built:.0f} s "
                    f"(CPU of this process {time.process_time() - cpu:.0f} s)",
                    flush=True,
                )
                whoosh, _ = whoosh_index(n, originals)
                p99, c99, p50 = measure(pg_backend, raw_top10(whoosh), queries, rounds)
                label = f"{n // 1000}k"
                rows.append(
                    Row(
                        f"search p99, PostgreSQL, {label} practices",
                        p99,
                        "ms",
                        c99,
                        "raw whoosh top-10, p99 ms",
                        f"< {goals.get(n, 0):.0f} ms",
                        p99 < goals.get(n, 0),
                    )
                )
                figures[f"search_pg_p99_ms_{label}"] = round(p99, 1)
                figures[f"search_pg_build_s_{label}"] = round(pg_built, 1)
                pg_backend.engine.dispose()
            finally:
                cluster.stop()
    return rows, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    rows, figures = run([int(s) for s in args.sizes.split(",")], args.rounds, args.postgres)
    print_table("search (medians over rounds)", rows)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
