"""Configuration layering (defaults, DIR/portal.toml, GCC_PORTAL__* environment, explicit overrides), typed
checks, explicit migrations, and the same app on PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from portalkit import PASSWORDS, build_instance, csrf_from, login

from gcc_link.cli import main
from gcc_link.protocol.errors import ConfigError
from knowledge_portal import create_app
from knowledge_portal.config import PortalConfig, load_config
from knowledge_portal.db import migrate


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_instance_file_then_environment_then_explicit(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "portal.toml").write_text(
        'per_page = 3\narabic_digits = "latn"\nlogin_max_attempts = 9\nlogin_window_seconds = 100\n'
    )
    monkeypatch.setenv("GCC_PORTAL__LOGIN_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("GCC_PORTAL__LOGIN_WINDOW_SECONDS", "90")
    migrate(load_config({"INSTANCE_DIR": str(inst)}).database_url)
    app = create_app({"INSTANCE_DIR": str(inst), "LOGIN_WINDOW_SECONDS": 60})
    assert app.config["PER_PAGE"] == 3 and app.config["ARABIC_DIGITS"] == "latn"
    assert app.config["LOGIN_MAX_ATTEMPTS"] == 7  # environment beats the file
    assert app.config["LOGIN_WINDOW_SECONDS"] == 60  # explicit beats the environment
    assert app.config["DATABASE_URL"] == f"sqlite:///{inst.resolve() / 'portal.sqlite'}"
    typed = app.extensions["portal_config"]
    assert isinstance(typed, PortalConfig) and typed.per_page == 3 and typed.instance_dir == inst.resolve()
    key_file = inst / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    again = create_app({"INSTANCE_DIR": str(inst)})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"] == key_file.read_text().strip()


def test_old_single_underscore_variables_are_not_read(tmp_path):
    config = load_config({"instance_dir": tmp_path / "i"}, env={"GCC_PORTAL_PER_PAGE": "4"})
    assert config.per_page == 10


def test_environment_values_are_typed_and_text_settings_stay_text(tmp_path):
    env = {
        "GCC_PORTAL__INSTANCE_DIR": str(tmp_path / "from-env"),
        "GCC_PORTAL__SESSION_COOKIE_SECURE": "true",
        "GCC_PORTAL__NETWORK_TIMEOUT_SECONDS": "2",
        "GCC_PORTAL__OIDC_CLIENT_ID": "12345",
        "GCC_PORTAL__STATE_DIGITS": '{OM = "latn"}',
        "GCC_PORTAL__DIRECTORY_FILE": "dir/directory.jws",
    }
    config = load_config(env=env)
    assert config.instance_dir == (tmp_path / "from-env").resolve()
    assert config.session_cookie_secure is True and config.network_timeout_seconds == 2.0
    assert config.oidc_client_id == "12345"  # a numeric client id is still a string
    assert dict(config.state_digits) == {"OM": "latn"}
    assert config.directory_file is not None and config.directory_file.is_absolute()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.per_page = 5  # type: ignore[misc]


def test_instance_file_paths_are_relative_to_the_instance(tmp_path):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "portal.toml").write_text('directory_file = "fed/directory.jws"\n[state_digits]\nOM = "latn"\n')
    config = load_config({"instance_dir": inst}, env={})
    assert config.directory_file == (inst / "fed" / "directory.jws").resolve()
    assert dict(config.state_digits) == {"OM": "latn"}
    assert config.search_index_dir == inst.resolve() / "search-index"


@pytest.mark.parametrize(
    "where, value, key",
    [
        ("file", 'per_page = "many"\n', "per_page"),
        ("file", "session_cookie_secure = 1\n", "session_cookie_secure"),
        ("file", 'arabic_digits = "roman"\n', "arabic_digits"),
        ("file", '[state_digits]\nXX = "latn"\n', "state_digits"),
        ("file", "per_pgae = 3\n", "per_pgae"),
        ("env", "GCC_PORTAL__PER_PAGE=0", "per_page"),
        ("env", "GCC_PORTAL__NETWORK_CACHE_SECONDS=soon", "network_cache_seconds"),
        ("env", "GCC_PORTAL__NO_SUCH_SETTING=1", "no_such_setting"),
        ("explicit", "PROXY_COUNT=x", "proxy_count"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, where, value, key):
    inst = tmp_path / "inst"
    inst.mkdir()
    env: dict[str, str] = {}
    overrides: dict[str, object] = {"instance_dir": inst}
    if where == "file":
        (inst / "portal.toml").write_text(value)
    elif where == "env":
        name, _, text = value.partition("=")
        env[name] = text
    else:
        name, _, text = value.partition("=")
        overrides[name] = text
    with pytest.raises(ConfigError) as info:
        load_config(overrides, env=env)
    assert key in info.value.message


def test_bad_toml_and_bad_secret_are_config_errors_without_the_secret(tmp_path):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "portal.toml").write_text("per_page = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config({"instance_dir": inst}, env={})
    (inst / "portal.toml").write_text("oidc_client_secret = 123456789\n")
    with pytest.raises(ConfigError, match="oidc_client_secret") as info:
        load_config({"instance_dir": inst}, env={})
    assert "123456789" not in info.value.message


def test_portal_py_instance_file_is_never_executed(tmp_path):
    inst = tmp_path / "inst"
    inst.mkdir()
    marker = tmp_path / "executed"
    (inst / "portal.py").write_text(f"PER_PAGE = 4\nopen({str(marker)!r}, 'w').close()\n")
    config = load_config({"instance_dir": inst}, env={})
    assert config.per_page == 10 and not marker.exists()


def test_every_setting_is_checked_and_reaches_flask(tmp_path):
    from knowledge_portal.config import _CHECKS

    assert set(_CHECKS) == {f.name for f in dataclasses.fields(PortalConfig)}
    config = load_config({"instance_dir": tmp_path / "i", "preferred_url_scheme": "https"}, env={})
    flask = config.flask_config()
    assert flask["SESSION_COOKIE_SECURE"] is True  # https forces secure cookies
    assert flask["MAX_CONTENT_LENGTH"] == 8 * 1024 * 1024 and flask["SECRET_KEY"] == config.secret_key
    assert flask["UPLOAD_DIR"] == str(tmp_path.resolve() / "i" / "uploads")
    assert config.secret_key not in repr(config)


def test_create_app_does_not_touch_the_schema_and_portal_migrate_does(tmp_path):
    inst = tmp_path / "inst"
    with pytest.raises(ConfigError, match="run gcc-link portal migrate"):
        create_app({"INSTANCE_DIR": str(inst)})
    db = inst / "portal.sqlite"
    assert _tables(db) == set()  # the factory created no table, not even alembic's
    runner = CliRunner()
    result = runner.invoke(main, ["portal", "migrate", "--instance", str(inst), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["before"] == [] and out["changed"] is True and out["after"]
    assert {"alembic_version", "practices", "users", "tag_labels"} <= _tables(db)
    again = runner.invoke(main, ["portal", "migrate", "--instance", str(inst)])
    assert again.exit_code == 0 and "already at" in again.stdout
    assert create_app({"INSTANCE_DIR": str(inst)}).test_client().get("/healthz").status_code == 200


def test_commands_on_an_unmigrated_instance_fail_in_one_line(tmp_path):
    inst = tmp_path / "inst"
    result = CliRunner().invoke(main, ["portal", "reindex", "--instance", str(inst), "--json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "run gcc-link portal migrate --instance" in result.stderr
    assert _tables(inst / "portal.sqlite") == set()


def test_a_database_from_newer_code_is_refused_clearly(tmp_path):
    inst = tmp_path / "inst"
    runner = CliRunner()
    assert runner.invoke(main, ["portal", "migrate", "--instance", str(inst)]).exit_code == 0
    with sqlite3.connect(inst / "portal.sqlite") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dface0099'")
    result = runner.invoke(main, ["portal", "migrate", "--instance", str(inst)])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: config_error: cannot migrate") and "f00dface0099" in result.stderr
    with pytest.raises(ConfigError, match="at schema revision f00dface0099, this code expects"):
        create_app({"INSTANCE_DIR": str(inst)})


def test_bad_setting_fails_a_command_in_one_line(tmp_path):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "portal.toml").write_text('per_page = "ten"\n')
    result = CliRunner().invoke(main, ["portal", "migrate", "--instance", str(inst)])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "per_page" in result.stderr


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
    response = client.post(
        "/en/admin/standards/new",
        data={
            "csrf_token": token,
            "code": "GCC-PG-01",
            "category": "security",
            "year": "2016",
            "title_ar": "معيار",
            "title_en": "PG standard",
        },
    )
    assert response.status_code == 302
    assert "PG standard" in client.get("/en/standards/").get_data(as_text=True)
    audit = client.get("/en/admin/audit").get_data(as_text=True)
    assert 'data-code="create"' in audit
    assert PASSWORDS["admin"] not in audit
