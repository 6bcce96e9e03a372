"""Database access: one SQLAlchemy engine per app, one session per request.

Plain SQLAlchemy 2 (no Flask-SQLAlchemy) so the same models serve the CLI,
the importer and the web app. SQLite by default, PostgreSQL by URL. The
schema is managed by alembic (``knowledge_portal/migrations``).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets foreign keys and WAL for concurrent readers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3 is the installed driver
    return create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    """The app's engine and session factory (``app.extensions['portal_db']``)."""

    def __init__(self, app: Flask | None = None) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        upgrade(self.engine)
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
    return g.db_session
