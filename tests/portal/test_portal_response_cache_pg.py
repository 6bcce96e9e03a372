"""The response cache with several portal processes on one PostgreSQL database (as on several machines):
a publish through one app is on the other's cached pages at its next request, in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from portalkit import build_instance, csrf_from, login

from knowledge_portal import create_app
from knowledge_portal.config import load_config

pytestmark = pytest.mark.postgres


def test_publish_on_one_host_reaches_the_other_hosts_cached_pages(tmp_path: Path, postgres_url: str) -> None:
    first = build_instance(tmp_path / "host-a", DATABASE_URL=postgres_url)
    second = create_app(
        load_config({"INSTANCE_DIR": str(tmp_path / "host-b"), "TESTING": False, "DATABASE_URL": postgres_url})
    )
    reader = second.test_client()
    cache = second.extensions["portal_page_cache"]
    for lang in ("ar", "en"):
        assert "GCC-PG-CACHE" not in reader.get(f"/{lang}/standards/").get_data(as_text=True)
    hits = cache.hits
    assert "GCC-PG-CACHE" not in reader.get("/en/standards/").get_data(as_text=True)
    assert cache.hits == hits + 1  # host B serves the page from its own cache now

    admin = first.client()
    login(admin, "admin")
    response = admin.post(
        "/en/admin/standards/new",
        data={
            "csrf_token": csrf_from(admin, "/en/admin/standards/new"),
            "code": "GCC-PG-CACHE",
            "category": "security",
            "year": "2016",
            "title_ar": "معيار مشترك",
            "title_en": "Shared standard",
            "body_ar": "",
            "body_en": "",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert "Shared standard" in reader.get("/en/standards/").get_data(as_text=True)
    assert "معيار مشترك" in reader.get("/ar/standards/").get_data(as_text=True)
