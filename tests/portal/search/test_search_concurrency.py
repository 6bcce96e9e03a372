"""Several processes writing one index at once: nothing lost, nothing corrupt;
a writer that cannot get the lock in time fails cleanly."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from whoosh.filedb.filestore import FileStorage

from knowledge_portal.search import PracticeDoc, SearchQuery
from knowledge_portal.search.whoosh_backend import WRITE_LOCK, SearchIndexBusyError, WhooshBackend

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


def _writer(index_dir: str, worker: int) -> None:
    backend = WhooshBackend(Path(index_dir))
    for i in range(DOCS_EACH):
        backend.index(replace(BASE, id=f"w{worker}-{i}", title_en=f"Concurrent service {worker} {i}"))
    backend.remove(f"w{worker}-0")


def test_concurrent_writers_from_several_processes(tmp_path: Path) -> None:
    index_dir = tmp_path / "ix"
    WhooshBackend(index_dir).index(replace(BASE, id="seed"))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(index_dir), w)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    found = {h.id for h in WhooshBackend(index_dir).search(SearchQuery(q="", per_page=100)).hits}
    expected = {"seed"} | {f"w{w}-{i}" for w in range(WORKERS) for i in range(1, DOCS_EACH)}
    assert found == expected


def test_writer_gives_up_after_the_bounded_wait(tmp_path: Path) -> None:
    holder = WhooshBackend(tmp_path / "ix")
    holder.index(replace(BASE, id="a"))
    other = WhooshBackend(tmp_path / "ix")
    other.lock_timeout = 0.2
    with holder._writer():  # hold the lock as a long-running writer would
        with pytest.raises(SearchIndexBusyError) as err:
            other.index(replace(BASE, id="b"))
        # index creation/replacement waits on the very same lock
        assert not FileStorage(str(tmp_path / "ix")).lock(WRITE_LOCK).acquire(blocking=False)
    assert err.value.code == "search_index_busy"
    other.index(replace(BASE, id="b"))  # once released, writes go through
    assert other.search(SearchQuery(q="")).total == 2
