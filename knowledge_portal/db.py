"""Database access: one SQLAlchemy engine per app, one session per request; schema changes only by ``migrate``.

Plain SQLAlchemy 2 (no Flask-SQLAlchemy) so the same models serve the CLI,
the importer and the web app. SQLite by default, PostgreSQL by URL. The
schema is managed by alembic (``knowledge_portal/migrations``).

Why migrations are explicit: building an app (``create_app``) must not change
a database, so several workers or machines starting at once never race on a
schema upgrade, and an operator decides when the schema moves. ``migrate(url)``
is run by ``gcc-link portal migrate``, ``portal init`` and ``portal run``
(before serving); ``create_app`` only checks the schema is at the newest
revision and otherwise refuses to start with a ``ConfigError`` that says to
run ``gcc-link portal migrate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gcc_link.protocol.errors import ConfigError

from .models import PortalSession

__all__ = [
    "MIGRATIONS_DIR",
    "Database",
    "MigrationResult",
    "check_schema",
    "get_session",
    "head_revisions",
    "make_engine",
    "migrate",
    "redacted_url",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets foreign keys and WAL for concurrent readers."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.close()

            return engine
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3 is the installed driver
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"database_url: not a usable database URL ({redacted_url(url)}): {exc}") from None


def redacted_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revisions() -> tuple[str, ...]:
    """The newest alembic revision(s) this code knows."""
    return tuple(sorted(ScriptDirectory.from_config(_alembic_config()).get_heads()))


def _current_revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


@dataclass(frozen=True)
class MigrationResult:
    """The schema revision(s) before and after :func:`migrate` (empty: no schema yet)."""

    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after


#: Written into the instance folder once its database holds a schema: from then on an empty database means loss.
STORE_MARKER = "store.json"


class StoreMissingError(ConfigError):
    """The instance held a portal, but its database is empty or gone: starting would forget its content."""

    code = "store_missing"


def migrate(url: str, instance: Path | None = None, *, initialise: bool = False) -> MigrationResult:
    """Bring the schema at ``url`` to the newest alembic revision (idempotent).

    With ``instance``, an empty database beside an instance folder that
    already held a portal (its ``store.json``) is refused with
    ``store_missing`` unless ``initialise`` says starting empty is intended:
    a deleted database file must not come back as a fresh, empty portal.
    Raises ``ConfigError`` when the database cannot be reached or upgraded
    (the message never shows the URL's password).
    """
    from alembic import command
    from alembic.util import CommandError

    engine = make_engine(url)
    try:
        before = _current_revisions(engine)
        marker = instance / STORE_MARKER if instance is not None else None
        if marker is not None and marker.exists() and not before and not initialise:
            raise StoreMissingError(
                f"the portal database {redacted_url(url)} is empty, but {instance} held a portal; restore the "
                "database from a backup, or start empty on purpose with --initialise"
            )
        cfg = _alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        if marker is not None and not marker.exists():
            marker.write_text('{"schema": "gcc-link-portal"}\n', encoding="utf-8")
        return MigrationResult(before, _current_revisions(engine))
    except SQLAlchemyError as exc:
        raise ConfigError(
            f"cannot migrate the portal database {redacted_url(url)}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    except CommandError as exc:  # e.g. a database at a revision this code does not know (newer code ran on it)
        raise ConfigError(f"cannot migrate the portal database {redacted_url(url)}: {exc}") from None
    finally:
        engine.dispose()


def check_schema(engine: Engine, instance: str | Path | None = None) -> None:
    """Raise ``ConfigError`` unless the database behind ``engine`` is at the newest revision.

    Reads only (the alembic version table); never changes the database.
    """
    url = engine.url.render_as_string(hide_password=True)
    try:
        current = _current_revisions(engine)
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read the portal database {url}: {type(exc).__name__}") from None
    head = head_revisions()
    if current != head:
        where = f" --instance {instance}" if instance is not None else ""
        raise ConfigError(
            f"the portal database {url} is at schema revision {', '.join(current) or 'none'}, "
            f"this code expects {', '.join(head)}: run gcc-link portal migrate{where}"
        )


class Database:
    """The app's engine and session factory (``app.extensions['portal_db']``).

    ``init_app`` opens the engine and checks the schema is current; it does
    not create or upgrade tables (see :func:`migrate`).
    """

    def __init__(self, app: Flask | None = None) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        try:
            check_schema(self.engine, app.config.get("INSTANCE_DIR"))
        except ConfigError:
            self.engine.dispose()
            raise
        self.sessionmaker = sessionmaker(self.engine, class_=PortalSession, expire_on_commit=False)
        app.extensions["portal_db"] = self
        app.teardown_appcontext(self._teardown)

    @staticmethod
    def _teardown(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_session() -> Session:
    """The request's (or app context's) session, created on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["portal_db"].sessionmaker()
    session: Session = g.db_session
    return session
