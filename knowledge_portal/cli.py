"""``gcc-link portal …``: run the portal, initialise an instance, import, reindex, manage users."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

INSTANCE = click.option("--instance", "instance", required=True, type=click.Path(file_okay=False, path_type=Path),
                        help="Instance folder (database, search index, config, uploads).")
JSON_OUT = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _fail(reason: str) -> None:
    click.echo(f"error: {reason}", err=True)
    sys.exit(1)


def _emit(result: dict[str, Any], as_json: bool, human: str) -> None:
    click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True) if as_json else human)


def _app(instance: Path):
    from . import create_app

    return create_app({"INSTANCE_DIR": str(instance)})


@click.group()
def portal() -> None:
    """The bilingual knowledge portal."""


@portal.command("run")
@INSTANCE
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", default=0, type=int, help="gunicorn workers (0: the built-in threaded server).")
@click.option("--reindex/--no-reindex", default=True, show_default=True,
              help="Rebuild the search index from the database before serving (keeps it in step after upgrades).")
def run(instance: Path, port: int, host: str, workers: int, reindex: bool) -> None:
    """Serve the portal (threaded WSGI server; use --workers N for gunicorn)."""
    try:
        app = _app(instance)
        if reindex:
            from .db import get_session
            from .indexing import reindex_all

            with app.app_context():
                reindex_all(get_session())
    except Exception as exc:  # one line, no traceback, no secrets
        _fail(f"cannot start the portal: {exc}")
    if workers > 0:
        from gunicorn.app.base import BaseApplication

        def _post_fork(_server, _worker) -> None:
            # connections and index handles opened before the fork must not be shared by workers
            app.extensions["portal_db"].engine.dispose(close=False)
            app.extensions["portal_search"] = None

        class _Gunicorn(BaseApplication):
            def load_config(self) -> None:
                self.cfg.set("bind", f"{host}:{port}")
                self.cfg.set("workers", workers)
                self.cfg.set("post_fork", _post_fork)

            def load(self):
                return app

        _Gunicorn().run()
        return
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True, request_handler=_redacting_handler())
    click.echo(f"portal listening on http://{host}:{server.server_port}/", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _redacting_handler():
    """A request handler whose access log never shows query values that may be secrets (OIDC codes)."""
    import re

    from werkzeug.serving import WSGIRequestHandler

    secret_params = re.compile(r"([?&](?:code|state|token|access_token|id_token|session_state)=)[^&\s]*")

    class RedactingHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = getattr(self, "path", None)
            self.requestline = secret_params.sub(r"\1[redacted]", self.requestline)
            if path is not None:  # werkzeug logs self.path (called after the response is sent)
                self.path = secret_params.sub(r"\1[redacted]", path)
            try:
                super().log_request(code, size)
            finally:
                if path is not None:
                    self.path = path

    return RedactingHandler


def _write_admin_file(path: Path, data: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


@portal.command("init")
@INSTANCE
@click.option("--demo", is_flag=True, help="Load demonstration content for all six states.")
@click.option("--admin-user", default="admin", show_default=True)
@JSON_OUT
def init(instance: Path, demo: bool, admin_user: str, as_json: bool) -> None:
    """Create (or complete) an instance; idempotent. Creates a secretariat admin with a random password."""
    from .db import get_session
    from .demo import load_demo
    from .indexing import reindex_all
    from .models import User
    from .security import hash_password

    app = _app(instance)
    admin_file = instance.resolve() / "admin.json"
    with app.app_context():
        db = get_session()
        user = db.scalar(select(User).where(User.username == admin_user))
        creds: dict[str, str] | None = None
        if admin_file.exists():
            try:
                creds = json.loads(admin_file.read_text(encoding="utf-8"))
            except ValueError:
                creds = None
        if user is None or creds is None or creds.get("username") != admin_user:
            password = secrets.token_urlsafe(18)
            if user is None:
                user = User(username=admin_user, role="admin")
                db.add(user)
            user.password_hash = hash_password(password)
            user.active = True
            creds = {"username": admin_user, "password": password}
            _write_admin_file(admin_file, creds)
        db.commit()
        added = load_demo(db) if demo else {}
        try:
            indexed = reindex_all(db)
        except Exception as exc:
            _fail(f"search index: {exc}")
    result = {"instance": str(instance.resolve()), "admin": creds, "admin_file": str(admin_file),
              "demo": added, "indexed": indexed}
    _emit(result, as_json, f"instance ready at {instance}; admin user {creds['username']!r}, "
                           f"password {creds['password']} (also in {admin_file}); {indexed} practices indexed")


@portal.command("create-user")
@INSTANCE
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "editor", "reviewer"]), required=True)
@click.option("--state", help="Member state of an editor (KW, SA, QA, AE, BH, OM).")
@click.option("--email")
@click.option("--password", help="Password (read from GCC_PORTAL_NEW_PASSWORD or generated when omitted).")
@JSON_OUT
def create_user(instance: Path, username: str, role: str, state: str | None, email: str | None,
                password: str | None, as_json: bool) -> None:
    """Create or update a local account (editors need --state)."""
    from .db import get_session
    from .models import User
    from .security import hash_password
    from .vocab import STATE_CODES

    if role == "editor" and (state or "").upper() not in STATE_CODES:
        _fail("an editor needs --state, one of " + ", ".join(STATE_CODES))
    if len(username) > 120 or not username.strip():
        _fail("user name must be 1-120 characters")
    password = password or os.environ.get("GCC_PORTAL_NEW_PASSWORD") or secrets.token_urlsafe(18)
    if len(password) < 12:
        _fail("password must be at least 12 characters")
    app = _app(instance)
    with app.app_context():
        db = get_session()
        user = db.scalar(select(User).where(User.username == username)) or User(username=username)
        user.role = role
        user.state_code = state.upper() if role == "editor" and state else None
        user.email = email
        user.password_hash = hash_password(password)
        user.active = True
        db.add(user)
        db.commit()
    _emit({"username": username, "role": role, "state": user.state_code, "password": password}, as_json,
          f"user {username!r} ({role}) ready; password {password}")


@portal.command("import-practices")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@INSTANCE
@click.option("--publish", is_flag=True, help="Publish the imported practices (and index them).")
@JSON_OUT
def import_practices_cmd(file: Path, instance: Path, publish: bool, as_json: bool) -> None:
    """Import best practices from JSON Lines; invalid lines are reported, valid ones imported."""
    from .db import get_session
    from .importer import import_practices
    from .indexing import sync_practice
    from .models import Practice

    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        _fail(f"{file} is not UTF-8 text")
    app = _app(instance)
    with app.app_context():
        db = get_session()
        report = import_practices(db, lines, publish)
        for pid in report.ids:
            practice = db.scalar(select(Practice).where(Practice.public_id == pid))
            if practice is not None:
                sync_practice(practice)
    result = report.as_dict()
    if as_json:
        _emit(result, True, "")
    else:
        for number, message in report.errors:
            click.echo(f"line {number}: {message}", err=True)
        click.echo(f"imported {report.imported}, updated {report.updated}, rejected {len(report.errors)}")
    if report.errors and not (report.imported or report.updated):
        sys.exit(1)


@portal.command("reindex")
@INSTANCE
@JSON_OUT
def reindex(instance: Path, as_json: bool) -> None:
    """Rebuild the search index from the published practices."""
    from .db import get_session
    from .indexing import reindex_all

    app = _app(instance)
    with app.app_context():
        count = reindex_all(get_session())
    _emit({"indexed": count}, as_json, f"indexed {count} practices")
