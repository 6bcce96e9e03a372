"""Configuration layering (defaults, DIR/portal.toml, GCC_PORTAL_* environment) and the same app on PostgreSQL."""

from __future__ import annotations

import pytest

from knowledge_portal import create_app
from portalkit import PASSWORDS, build_instance, csrf_from, login


def test_instance_file_then_environment_then_explicit(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "portal.toml").write_text('per_page = 3\narabic_digits = "latn"\nlogin_max_attempts = 9\n')
    monkeypatch.setenv("GCC_PORTAL_LOGIN_MAX_ATTEMPTS", "7")
    app = create_app({"INSTANCE_DIR": str(inst), "LOGIN_WINDOW_SECONDS": 60})
    assert app.config["PER_PAGE"] == 3 and app.config["ARABIC_DIGITS"] == "latn"
    assert app.config["LOGIN_MAX_ATTEMPTS"] == 7  # environment beats the file
    assert app.config["LOGIN_WINDOW_SECONDS"] == 60
    assert app.config["DATABASE_URL"] == f"sqlite:///{inst.resolve() / 'portal.sqlite'}"
    key_file = inst / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    again = create_app({"INSTANCE_DIR": str(inst)})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"] == key_file.read_text().strip()


def test_portal_py_instance_file(tmp_path):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "portal.py").write_text("PER_PAGE = 4\nlowercase_ignored = 1\n")
    app = create_app({"INSTANCE_DIR": str(inst)})
    assert app.config["PER_PAGE"] == 4 and "lowercase_ignored" not in app.config


def test_per_page_config_drives_paging(tmp_path):
    env = build_instance(tmp_path / "inst", PER_PAGE=5)
    html = env.client().get("/en/practices/").get_data(as_text=True)
    assert "Page 1 of 3" in html


# --- PostgreSQL (postgres_url: tests/conftest.py) -----------------------------------------


@pytest.mark.postgres
def test_same_models_and_migrations_on_postgresql(tmp_path, postgres_url):
    env = build_instance(tmp_path / "pg", DATABASE_URL=postgres_url)
    assert env.app.extensions["portal_db"].engine.dialect.name == "postgresql"
    client = env.client()
    assert "الكويت" in client.get("/ar/").get_data(as_text=True)
    assert client.get("/api/v1/services?state=KW").get_json()["total"] == 11
    assert client.get("/api/v1/practices?state=REGIONAL").get_json()["total"] == 3
    # an admin change and the rate limiter work on PostgreSQL too
    login(client, "admin")
    token = csrf_from(client, "/en/admin/standards/new")
    response = client.post("/en/admin/standards/new", data={
        "csrf_token": token, "code": "GCC-PG-01", "category": "security", "year": "2016",
        "title_ar": "معيار", "title_en": "PG standard"})
    assert response.status_code == 302
    assert "PG standard" in client.get("/en/standards/").get_data(as_text=True)
    audit = client.get("/en/admin/audit").get_data(as_text=True)
    assert "<td>create</td>" in audit
    assert PASSWORDS["admin"] not in audit
