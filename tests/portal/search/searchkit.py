"""Helpers for the search tests: a new, empty search backend of either kind,
so that every backend runs the same tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from knowledge_portal.search.postgres_backend import PostgresSearchBackend
from knowledge_portal.search.whoosh_backend import WhooshBackend

#: Every backend runs the same backend tests: whoosh on disk, and PostgreSQL
#: (a throwaway cluster from the PostgreSQL server binaries, one schema per index).
BACKEND_KINDS = ["whoosh", "postgres"]


def pg_schema_engine(url: str, schema: str) -> Engine:
    """An engine on ``url`` whose search_path is a new, empty ``schema``."""
    url = "postgresql+psycopg://" + url.split("://", 1)[1]
    with create_engine(url).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return create_engine(url, connect_args={"options": f"-c search_path={schema}"})


def make_backend(request: pytest.FixtureRequest, kind: str, where: Path, name: str) -> WhooshBackend:
    """A new, empty backend of ``kind`` (an index of its own)."""
    if kind == "postgres":
        url = request.getfixturevalue("postgres_session_url")
        return PostgresSearchBackend(pg_schema_engine(url, name))  # type: ignore[return-value]
    return WhooshBackend(where)
