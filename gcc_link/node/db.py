"""Database engines and sessions: SQLite (WAL, synchronous=FULL) or PostgreSQL by URL.

On SQLite every writing transaction starts with ``BEGIN IMMEDIATE`` so two
processes never both read the log head and then race to write (SQLite would
fail the second upgrade instead of waiting); reads use a separate engine
with deferred transactions so they never wait for a writer (WAL).
``synchronous=FULL`` makes each commit durable before the node answers 202.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..dburl import is_sqlite, sqlalchemy_url

T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, FULL sync and a busy timeout."""
    url = sqlalchemy_url(url)
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, poolclass=None)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class WriteLock:
    """Serialises SQLite writers across threads and processes, waking waiters at once.

    SQLite's own busy handler sleeps in growing steps (up to 100 ms) while the
    database is locked, which caps throughput when several web workers and
    the delivery process write at once; an ``flock`` on a side file hands the
    write lock over as soon as it is released.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a fork needs its own open file description
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


def _sqlite_path(url: str) -> Path | None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


class Database:
    """The node's store: a writer and a reader session factory over one URL."""

    def __init__(self, url: str) -> None:
        self.url = sqlalchemy_url(url)
        self.sqlite = is_sqlite(self.url)
        path = _sqlite_path(self.url) if self.sqlite else None
        self._lock = WriteLock(path.with_name(path.name + ".lock")) if path else None
        self.engine = make_engine(self.url, immediate=True)
        self.read_engine = make_engine(self.url, immediate=False) if self.sqlite else self.engine
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one writing transaction, committed on success."""
        if self._lock is None:
            with self._write() as session, session.begin():
                yield session
            return
        with self._lock.hold(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (no write lock on SQLite)."""
        with self._read() as session, session.begin():
            yield session

    def retrying(self, fn: Callable[[Session], T], attempts: int = 5) -> T:
        """Run ``fn`` in a write transaction, retrying on transient lock errors."""
        for i in range(attempts):
            try:
                with self.write() as session:
                    return fn(session)
            except OperationalError as exc:
                if i == attempts - 1 or "locked" not in str(exc).lower() and "deadlock" not in str(exc).lower():
                    raise
                time.sleep(0.05 * (2**i))
        raise AssertionError("unreachable")

    def ping(self) -> None:
        """Raise if the database is unreachable."""
        with self.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def migrate(url: str) -> None:
    """Bring the schema at ``url`` to the newest alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    command.upgrade(cfg, "head")
