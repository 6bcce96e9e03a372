"""``gcc-link portal …``: migrate, initialise, run, import, reindex and manage users of a portal instance.

An instance is a folder (``--instance DIR``) holding ``portal.toml``, the
SQLite database (unless ``database_url`` points elsewhere), the search index,
uploads and the generated secret key. The schema changes only through
``migrate``, which ``init`` and ``run`` call first; the other commands need a
migrated instance and say so otherwise. Like every ``gcc-link`` command: exit
0 on success, non-zero with one ``error: …`` line on failure, ``--json`` where
a result is printed.

The portal's modules (Flask, SQLAlchemy, whoosh) are imported inside the
commands so ``gcc-link --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..protocol.errors import ConfigError, GccLinkError
from ..protocol.identifiers import GCC_STATES, parse_state
from .files import json_option, write_private
from .output import emit, fail, fail_on

try:
    import knowledge_portal  # noqa: F401 - the portal part of the distribution
except ModuleNotFoundError as _missing:  # pragma: no cover - a node-only install: the group is not offered
    if _missing.name != "knowledge_portal":
        raise
    raise ModuleNotFoundError("the knowledge portal is not installed", name=__name__) from _missing

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask
    from werkzeug.serving import WSGIRequestHandler

    from knowledge_portal.config import PortalConfig
    from knowledge_portal.db import MigrationResult

__all__ = ["portal"]

#: Environment variable read by ``create-user`` when ``--password`` is not given (a CLI input, not a setting).
NEW_PASSWORD_ENV = "GCC_PORTAL_NEW_PASSWORD"

instance_option = click.option(
    "--instance",
    "instance",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Instance folder (portal.toml, database, search index, uploads, secret key).",
)


def _config(instance: Path) -> PortalConfig:
    """The instance's typed configuration; a bad setting ends the command with one line."""
    from knowledge_portal.config import load_config

    try:
        return load_config({"instance_dir": instance})
    except ConfigError as exc:
        fail_on(exc)


def _migrate(config: PortalConfig, initialise: bool = False) -> MigrationResult:
    """Bring the instance's schema to the newest revision; a failure ends the command with one line.

    An empty database in an instance that held a portal is refused (``store_missing``) unless ``initialise``.
    """
    from knowledge_portal.db import migrate

    try:
        return migrate(config.database_url, config.instance_dir, initialise=initialise)
    except ConfigError as exc:
        fail_on(exc)


def _app(config: PortalConfig) -> Flask:
    """The portal app; an instance whose schema is not current ends the command ("run … migrate")."""
    from knowledge_portal import create_app

    try:
        return create_app(config)
    except GccLinkError as exc:
        fail_on(exc)


@click.group("portal")
def portal() -> None:
    """The bilingual knowledge portal."""


initialise_option = click.option(
    "--initialise",
    is_flag=True,
    help="Start with an empty database even though this instance held a portal (its content is then lost).",
)


@portal.command("migrate")
@instance_option
@initialise_option
@json_option
def migrate_cmd(instance: Path, initialise: bool, as_json: bool) -> None:
    """Create or upgrade the instance's database schema to the newest revision (idempotent)."""
    from knowledge_portal.db import redacted_url

    config = _config(instance)
    result = _migrate(config, initialise)
    after = ", ".join(result.after) or "none"
    human = (
        f"schema upgraded to {after} (was {', '.join(result.before) or 'empty'})"
        if result.changed
        else f"schema already at {after}"
    )
    emit(
        {
            "instance": str(config.instance_dir),
            "database": redacted_url(config.database_url),
            "before": list(result.before),
            "after": list(result.after),
            "changed": result.changed,
        },
        as_json,
        human,
    )


@portal.command("run")
@instance_option
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--workers", default=0, type=click.IntRange(min=0), help="gunicorn workers (0: the built-in threaded server)."
)
@click.option(
    "--reindex/--no-reindex",
    default=True,
    show_default=True,
    help="Rebuild the search index from the database before serving (keeps it in step after upgrades).",
)
@initialise_option
def run(instance: Path, port: int, host: str, workers: int, reindex: bool, initialise: bool) -> None:
    """Migrate the schema, then serve the portal (threaded WSGI server; --workers N for gunicorn)."""
    config = _config(instance)
    _migrate(config, initialise)
    try:
        app = _app(config)
        if reindex:
            from knowledge_portal.db import get_session
            from knowledge_portal.indexing import reindex_all

            with app.app_context():
                reindex_all(get_session())
    except Exception as exc:  # noqa: BLE001 - whatever stops start-up ends in one line, no traceback, no secrets
        fail(f"cannot start the portal: {exc}")
    stop = _start_collector(app)
    if workers > 0:
        try:
            _serve_gunicorn(app, host, port, workers)
        finally:
            stop.set()
        return
    from werkzeug.serving import make_server

    listener = _listen(host, port)
    try:
        server = make_server(host, port, app, threaded=True, request_handler=_redacting_handler(), fd=listener.fileno())
    finally:
        listener.close()  # the server holds its own duplicate of the socket
    click.echo(f"portal listening on http://{host}:{server.port}/", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()


def _collector_loop(app: Flask, stop: Any) -> None:
    from knowledge_portal.collector import run_forever

    with app.app_context():
        db = app.extensions["portal_db"]
        run_forever(
            db.sessionmaker,
            app.extensions["portal_network"].config,
            float(app.config.get("NETWORK_CACHE_SECONDS", 30)),
            stop,
        )


def _start_collector(app: Flask) -> Any:
    """Poll the member nodes beside the web server (only when a member directory is configured or hosted)."""
    import threading

    stop = threading.Event()
    with app.app_context():
        wanted = app.extensions["portal_network"].configured
    if wanted:
        threading.Thread(target=_collector_loop, args=(app, stop), name="network-collector", daemon=True).start()
    return stop


@portal.command("collect-network")
@instance_option
@click.option(
    "--interval", default=30.0, show_default=True, type=click.FloatRange(min=1), help="Seconds between rounds."
)
@click.option("--once", is_flag=True, help="One round, print it, exit.")
@json_option
def collect_network(instance: Path, interval: float, once: bool, as_json: bool) -> None:
    """Poll every member node's signed status, verify it and store the history (what the network pages show)."""
    import threading
    from datetime import datetime, timezone

    from knowledge_portal.collector import collect_once, run_forever

    config = _config(instance)
    app = _app(config)
    with app.app_context():
        db = app.extensions["portal_db"]
        network = app.extensions["portal_network"]
        if not network.configured:
            fail("no member directory: set directory_file (and root_cert) or upload a version in the admin")
        if once:
            session = db.sessionmaker()
            try:
                polls = collect_once(
                    session,
                    network.config,
                    datetime.now(timezone.utc),
                    timeout=float(app.config.get("NETWORK_TIMEOUT_SECONDS", 1.5)),
                )
            except (GccLinkError, OSError) as exc:
                fail(f"cannot read the member directory: {exc}")
            finally:
                session.close()
            result = [{"cc": p.cc, "online": p.status is not None, "error": p.error} for p in polls]
            emit(result, as_json, "\n".join(f"{p.cc}: {'verified' if p.status else p.error}" for p in polls))
            return
        run_forever(db.sessionmaker, network.config, interval, threading.Event())


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one ``error:`` line (werkzeug would print several and exit)."""
    from werkzeug.serving import get_sockaddr, select_address_family

    family = select_address_family(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(get_sockaddr(host, port, family))
        sock.listen(128)
    except OSError as exc:  # port in use, address not available, unknown host
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return sock


def _serve_gunicorn(app: Flask, host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    def _post_fork(_server: Any, _worker: Any) -> None:
        # connections and index handles opened before the fork must not be shared by workers
        app.extensions["portal_db"].engine.dispose(close=False)
        app.extensions["portal_search"] = None

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("post_fork", _post_fork)

        def load(self) -> Flask:
            return app

    _Gunicorn().run()


def _redacting_handler() -> type[WSGIRequestHandler]:
    """A request handler whose access log never shows query values that may be secrets (OIDC codes)."""
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


@portal.command("init")
@instance_option
@click.option("--demo", is_flag=True, help="Load demonstration content for all six states.")
@click.option("--admin-user", default="admin", show_default=True)
@json_option
def init(instance: Path, demo: bool, admin_user: str, as_json: bool) -> None:
    """Create (or complete) an instance; idempotent. Migrates the schema; creates a secretariat admin
    with a random password (kept, mode 0600, in INSTANCE/admin.json)."""
    from sqlalchemy import select

    from knowledge_portal.db import get_session
    from knowledge_portal.demo import load_demo
    from knowledge_portal.indexing import reindex_all
    from knowledge_portal.models import User
    from knowledge_portal.reference import ensure_reference_data
    from knowledge_portal.security import hash_password

    config = _config(instance)
    _migrate(config)
    app = _app(config)
    admin_file = config.instance_dir / "admin.json"
    with app.app_context():
        db = get_session()
        user = db.scalar(select(User).where(User.username == admin_user))
        creds: dict[str, str] | None = None
        if admin_file.exists():
            try:
                creds = json.loads(admin_file.read_text(encoding="utf-8"))
            except ValueError:
                creds = None
        if user is None or not isinstance(creds, dict) or creds.get("username") != admin_user:
            password = secrets.token_urlsafe(18)
            if user is None:
                user = User(username=admin_user, role="admin")
                db.add(user)
            user.password_hash = hash_password(password)
            user.active = True
            creds = {"username": admin_user, "password": password}
            write_private(admin_file, json.dumps(creds).encode("utf-8"))
        db.commit()
        added = load_demo(db) if demo else {}
        reference = ensure_reference_data(db)  # six member states and the sector vocabulary, always
        try:
            indexed = reindex_all(db)
        except Exception as exc:  # noqa: BLE001 - one line, the index is rebuilt by the next run
            fail(f"search index: {exc}")
    result = {
        "instance": str(config.instance_dir),
        "admin": creds,
        "admin_file": str(admin_file),
        "demo": added,
        "reference": reference,
        "indexed": indexed,
    }
    emit(
        result,
        as_json,
        f"instance ready at {instance}; admin user {creds['username']!r}, "
        f"password {creds['password']} (also in {admin_file}); {indexed} practices indexed",
    )


@portal.command("create-user")
@instance_option
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "editor", "reviewer"]), required=True)
@click.option("--state", help="Member state of an editor (" + ", ".join(GCC_STATES) + ").")
@click.option("--email")
@click.option("--password", help=f"Password (read from {NEW_PASSWORD_ENV} or generated when omitted).")
@json_option
def create_user(
    instance: Path, username: str, role: str, state: str | None, email: str | None, password: str | None, as_json: bool
) -> None:
    """Create or update a local account (editors need --state)."""
    from sqlalchemy import select

    from knowledge_portal.db import get_session
    from knowledge_portal.models import User
    from knowledge_portal.security import hash_password

    state_code: str | None = None
    if role == "editor":
        try:
            state_code = parse_state((state or "").upper())
        except GccLinkError:
            state_code = None
        if state_code not in GCC_STATES:
            fail("an editor needs --state, one of " + ", ".join(GCC_STATES))
    if len(username) > 120 or not username.strip():
        fail("user name must be 1-120 characters")
    password = password or os.environ.get(NEW_PASSWORD_ENV) or secrets.token_urlsafe(18)
    if len(password) < 12:
        fail("password must be at least 12 characters")
    app = _app(_config(instance))
    with app.app_context():
        db = get_session()
        user = db.scalar(select(User).where(User.username == username)) or User(username=username)
        user.role = role
        user.state_code = state_code
        user.email = email
        user.password_hash = hash_password(password)
        user.active = True
        db.add(user)
        db.commit()
    emit(
        {"username": username, "role": role, "state": state_code, "password": password},
        as_json,
        f"user {username!r} ({role}) ready; password {password}",
    )


@portal.command("import-practices")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@instance_option
@click.option("--publish", is_flag=True, help="Publish the imported practices (and index them).")
@json_option
def import_practices_cmd(file: Path, instance: Path, publish: bool, as_json: bool) -> None:
    """Import best practices from JSON Lines; invalid lines are reported, valid ones imported.

    Fails (after the report) when no line could be imported.
    """
    from sqlalchemy import select

    from knowledge_portal.db import get_session
    from knowledge_portal.importer import import_practices
    from knowledge_portal.indexing import sync_practice
    from knowledge_portal.models import Practice

    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text")
    app = _app(_config(instance))
    with app.app_context():
        db = get_session()
        report = import_practices(db, lines, publish)
        for pid in report.ids:
            practice = db.scalar(select(Practice).where(Practice.public_id == pid))
            if practice is not None:
                sync_practice(practice)
    if as_json:
        emit(report.as_dict(), True, "")
    else:
        for number, message in report.errors:
            click.echo(f"line {number}: {message}", err=True)
        click.echo(f"imported {report.imported}, updated {report.updated}, rejected {len(report.errors)}")
    if report.errors and not (report.imported or report.updated):
        fail(f"nothing imported: all {len(report.errors)} lines were rejected")


@portal.command("reindex")
@instance_option
@json_option
def reindex(instance: Path, as_json: bool) -> None:
    """Rebuild the search index from the published practices."""
    from knowledge_portal.db import get_session
    from knowledge_portal.indexing import reindex_all

    app = _app(_config(instance))
    with app.app_context():
        count = reindex_all(get_session())
    emit({"indexed": count}, as_json, f"indexed {count} practices")
