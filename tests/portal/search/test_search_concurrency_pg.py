"""Several processes writing one PostgreSQL search index at once (as several
portal machines do): nothing lost, nothing doubled, term statistics exact."""

from __future__ import annotations

import multiprocessing
import uuid
from dataclasses import replace
from datetime import date

import pytest
from searchkit import pg_schema_engine
from sqlalchemy import create_engine, text

from knowledge_portal.search import PracticeDoc, SearchQuery
from knowledge_portal.search.postgres_backend import PostgresSearchBackend

pytestmark = pytest.mark.postgres
WORKERS = 4
DOCS_EACH = 6

BASE = PracticeDoc(
    id="",
    state="OM",
    sector="ict",
    year=2016,
    tags=("concurrency",),
    title_ar="خدمة متزامنة",
    title_en="Concurrent service",
    summary_ar="ملخص",
    summary_en="summary",
    body_ar="نص",
    body_en="body",
    published=date(2016, 1, 1),
)


def _engine(url: str, schema: str):
    return create_engine(
        "postgresql+psycopg://" + url.split("://", 1)[1], connect_args={"options": f"-c search_path={schema}"}
    )


def _writer(url: str, schema: str, worker: int) -> None:
    backend = PostgresSearchBackend(_engine(url, schema))
    for i in range(DOCS_EACH):
        backend.index(replace(BASE, id=f"w{worker}-{i}", title_en=f"Concurrent service {worker} {i}"))
    backend.index(replace(BASE, id="shared", title_en=f"Shared by everyone, last writer {worker}"))
    backend.remove(f"w{worker}-0")


def test_concurrent_writers_from_several_processes(postgres_session_url: str) -> None:
    schema = f"c_{uuid.uuid4().hex[:12]}"
    first = PostgresSearchBackend(pg_schema_engine(postgres_session_url, schema))
    first.index(replace(BASE, id="seed"))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(postgres_session_url, schema, w)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    found = [h.id for h in first.search(SearchQuery(q="", per_page=100)).hits]
    expected = {"seed", "shared"} | {f"w{w}-{i}" for w in range(WORKERS) for i in range(1, DOCS_EACH)}
    assert sorted(found) == sorted(expected)  # each once: the replaced "shared" is not doubled
    with first.engine.connect() as conn:
        # document frequencies equal a recount from the postings, and the document count is exact
        wrong = conn.execute(
            text("""
            SELECT count(*) FROM search_terms t
            FULL JOIN (SELECT field, term, count(*) AS n FROM search_postings GROUP BY field, term) p
              ON p.field = t.field AND p.term = t.term
            WHERE t.df IS DISTINCT FROM p.n""")
        ).scalar_one()
        docs = conn.execute(text("SELECT total FROM search_stats WHERE field = -1")).scalar_one()
    assert wrong == 0
    assert docs == len(expected)
    assert first.search(SearchQuery(q="concurrent", lang="en")).total == len(expected) - 1  # all but "shared"
    assert [h.id for h in first.search(SearchQuery(q="everyone", lang="en")).hits] == ["shared"]
