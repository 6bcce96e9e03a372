"""Fixtures for the search tests: the bilingual test corpus and real on-disk
whoosh indexes (built once per session, read-only for the tests using them)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from searchkit import BACKEND_KINDS, make_backend

from knowledge_portal.search import PracticeDoc
from knowledge_portal.search.evaluate import load_corpus
from knowledge_portal.search.whoosh_backend import WhooshBackend

CORPUS_PATH = Path(__file__).with_name("corpus.jsonl")


@pytest.fixture(scope="session")
def corpus() -> list[PracticeDoc]:
    return load_corpus(CORPUS_PATH)


@pytest.fixture(scope="session", params=BACKEND_KINDS)
def corpus_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, corpus: list[PracticeDoc]
) -> WhooshBackend:
    """The whole corpus indexed once per backend; tests must not write to it."""
    backend = make_backend(request, request.param, tmp_path_factory.mktemp("corpus-index"), "corpus")
    assert backend.rebuild(corpus) == len(corpus)
    return backend


@pytest.fixture(params=BACKEND_KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> WhooshBackend:
    """An empty index of its own for tests that write."""
    return make_backend(request, request.param, tmp_path / "index", f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture()
def make_doc() -> Callable[..., PracticeDoc]:
    """Builds a small valid document; keyword arguments override fields."""
    base = PracticeDoc(
        id="doc",
        state="KW",
        sector="ict",
        year=2015,
        tags=("portal",),
        title_ar="خدمة تجريبية",
        title_en="A test service",
        summary_ar="ملخص الخدمة",
        summary_en="Service summary",
        body_ar="نص الخدمة",
        body_en="Service body",
        published=date(2015, 1, 1),
    )

    def build(**fields: object) -> PracticeDoc:
        return replace(base, **fields)  # type: ignore[arg-type]

    return build
