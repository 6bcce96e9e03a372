"""A portal on several machines: with ``DATABASE_URL`` on PostgreSQL the search
index lives in that database, so two portal apps with separate instance folders
(as on two hosts: nothing shared but the database) see each other's publishes
at once. And with ``search_backend = "whoosh"`` the on-disk index is still used."""

from __future__ import annotations

from pathlib import Path

import pytest
from portalkit import PASSWORDS, build_instance, csrf_from, login

from knowledge_portal import create_app
from knowledge_portal.config import load_config
from knowledge_portal.indexing import get_backend
from knowledge_portal.search.postgres_backend import PostgresSearchBackend
from knowledge_portal.search.whoosh_backend import WhooshBackend

pytestmark = pytest.mark.postgres

FORM = {
    "public_id": "pg-shared-practice",
    "state_code": "KW",
    "sector": "health",
    "year": "2016",
    "tags": "telehealth",
    "title_ar": "العيادة الافتراضية المشتركة",
    "title_en": "Shared virtual clinic",
    "summary_ar": "ملخص",
    "summary_en": "A virtual clinic summary",
    "body_ar": "<p>نص</p>",
    "body_en": "<p>Consultations by video</p>",
    "outcomes_ar": "",
    "outcomes_en": "",
    "source": "",
    "related": "",
}


def _search_ids(client, q: str, lang: str = "en") -> list[str]:
    data = client.get(f"/api/v1/search?q={q}&lang={lang}").get_json()
    return [r["id"] for r in data["results"]]


def test_two_portal_hosts_share_one_postgres_index(tmp_path: Path, postgres_url: str) -> None:
    first = build_instance(tmp_path / "host-a", DATABASE_URL=postgres_url)
    second_app = create_app(
        load_config({"INSTANCE_DIR": str(tmp_path / "host-b"), "TESTING": False, "DATABASE_URL": postgres_url})
    )
    with first.app.app_context():
        assert isinstance(get_backend(), PostgresSearchBackend)
    with second_app.app_context():
        assert isinstance(get_backend(), PostgresSearchBackend)
    reader = second_app.test_client()
    # the demo content indexed by host A is searchable on host B, which never indexed anything
    assert "kw-social-loan" in _search_ids(reader, "social loan")
    assert not any((tmp_path / "host-b" / "search-index").glob("*"))

    admin = first.client()
    login(admin, "admin")
    token = csrf_from(admin, "/en/admin/practices/new")
    response = admin.post("/en/admin/practices/new", data={"csrf_token": token, **FORM})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    record_id = response.headers["Location"].rstrip("/").split("/")[-1]
    assert _search_ids(reader, "virtual clinic") == []  # a draft is not indexed
    assert admin.post(f"/en/admin/practices/{record_id}/publish", data={"csrf_token": token}).status_code == 302
    # published on A: found on B at once, in both languages
    assert _search_ids(reader, "virtual clinic") == ["pg-shared-practice"]
    assert _search_ids(reader, "العيادات الافتراضية", "ar") == ["pg-shared-practice"]

    # unpublished on B (its own admin session): gone from A's search
    other_admin = reader
    token_b = csrf_from(other_admin, "/en/login")
    assert (
        other_admin.post(
            "/en/login", data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token_b}
        ).status_code
        == 302
    )
    token_b = csrf_from(other_admin, f"/en/admin/practices/{record_id}")
    assert (
        other_admin.post(f"/en/admin/practices/{record_id}/unpublish", data={"csrf_token": token_b}).status_code == 302
    )
    assert _search_ids(first.client(), "virtual clinic") == []


def _new_database(url: str, name: str) -> str:
    """A new empty database on the module's cluster (each portal needs its own users table)."""
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def test_whoosh_can_still_be_chosen_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    url = _new_database(postgres_url, "portal_whoosh")
    env = build_instance(tmp_path / "w", DATABASE_URL=url, SEARCH_BACKEND="whoosh")
    with env.app.app_context():
        assert isinstance(get_backend(), WhooshBackend)
    assert "kw-social-loan" in _search_ids(env.client(), "social loan")


def test_sqlite_portal_keeps_whoosh(tmp_path: Path) -> None:
    env = build_instance(tmp_path / "s")
    with env.app.app_context():
        assert isinstance(get_backend(), WhooshBackend)
