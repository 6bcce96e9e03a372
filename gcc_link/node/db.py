"""Database engines and sessions: SQLite (WAL, synchronous=FULL) or PostgreSQL by URL.

On SQLite every writing transaction starts with ``BEGIN IMMEDIATE`` so two
processes never both read the log head and then race to write (SQLite would
fail the second upgrade instead of waiting); reads use a separate engine
with deferred transactions so they never wait for a writer (WAL).
``synchronous=FULL`` makes each commit durable before the node answers 202.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..dburl import is_sqlite, sqlalchemy_url
from ..protocol.errors import ConfigError

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


def _file_identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


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
        self._path = path
        self._file_identity = _file_identity(path) if path is not None and path.exists() else None

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

    def probe_write(self) -> None:
        """Raise unless the store takes a write now: the SQLite file still the one opened at start and
        writable, or a PostgreSQL primary (not a read-only standby)."""
        if self._path is not None:
            if not self._path.exists():
                raise OSError(f"the database file {self._path} was deleted while the node ran")
            if self._file_identity is not None and _file_identity(self._path) != self._file_identity:
                raise OSError(f"the database file {self._path} was replaced while the node ran")
        with self.write() as session:
            if self.sqlite:
                version = int(session.execute(text("PRAGMA user_version")).scalar_one())
                session.execute(text(f"PRAGMA user_version = {version}"))  # rewrites the header: needs write access
            elif session.execute(
                text("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'")
            ).scalar_one():
                raise OSError("the PostgreSQL server is read-only (a standby, or read-only transactions)")

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


#: Written into the data directory once its store holds a schema: from then on an empty store means loss.
STORE_MARKER = "store.json"
#: Files whose presence shows the data directory belonged to a running node.
_STATE_FILES = (STORE_MARKER, "directory.trusted.jws")


class StoreMissingError(ConfigError):
    """The data directory held a node, but its database is empty or gone: starting would forget everything."""

    code = "store_missing"


def has_schema(url: str) -> bool:
    """Whether the database at ``url`` holds the node's schema (alembic has stamped it)."""
    engine = make_engine(url, immediate=False)
    try:
        with engine.connect() as conn:
            return "alembic_version" in inspect(conn).get_table_names()
    finally:
        engine.dispose()


def prepare_store(data_dir: Path, url: str, *, initialise: bool = False) -> None:
    """Migrate the store, but never silently start over an empty one in a data directory that held a node.

    A deleted SQLite file (or an emptied database) next to a data
    directory with state would otherwise come back as a fresh, empty node
    that has forgotten its acknowledged messages and clients. That is
    refused with ``store_missing`` unless ``initialise`` says starting empty
    is intended (after a disaster, once a backup has been ruled out).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    had_state = any((data_dir / name).exists() for name in _STATE_FILES)
    if had_state and not initialise and not has_schema(url):
        raise StoreMissingError(
            f"the database of this node is empty or missing, but {data_dir} shows the node ran before; restore "
            "it from a backup, or start empty on purpose with --initialise"
        )
    migrate(url)
    marker = data_dir / STORE_MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"schema": "gcc-link-node"}) + "\n", encoding="utf-8")


def describe_db_error(exc: BaseException) -> str:
    """One line naming a database failure's cause (the driver's message, not SQLAlchemy's help link)."""
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}: {orig if orig is not None else exc}".splitlines()[0][:500]
