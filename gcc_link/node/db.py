"""Database engines and sessions: SQLite (WAL, synchronous=FULL) or PostgreSQL by URL.

On SQLite every writing transaction starts with ``BEGIN IMMEDIATE`` so two
processes never both read the log head and then race to write (SQLite would
fail the second upgrade instead of waiting); reads use a separate engine
with deferred transactions so they never wait for a writer (WAL).
``synchronous=FULL`` makes each commit durable before the node answers 202.

Bookkeeping that the protocol recovers by itself (the delivery worker's
claim leases and settles) may commit with ``write(durable=False)``: on
SQLite that transaction runs with ``synchronous=NORMAL`` (in WAL mode it
survives a crash of the process; only a power cut or kernel crash can lose
it, and a later durable commit makes it durable too, as the WAL is flushed
in order), on PostgreSQL with ``SET LOCAL synchronous_commit = off`` (same
guarantee: never corrupt, at worst the last transactions are lost on a
server crash).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
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


#: Execution option naming the ``synchronous`` level for the SQLite transaction a connection begins.
SYNC_OPTION = "gcc_link_synchronous"
#: SQLite's numbers for ``PRAGMA synchronous`` (what the pragma reads back).
SYNC_LEVELS = {"NORMAL": 1, "FULL": 2}
_SYNC_INFO = "gcc_link_synchronous"
_NO_SYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, FULL sync and a busy timeout.

    A connection whose execution options carry ``SYNC_OPTION = "NORMAL"``
    (``Database.write(durable=False)``) switches to ``synchronous=NORMAL``
    just before its ``BEGIN`` (SQLite refuses the change inside a
    transaction) and back to FULL when it returns to the pool; every
    ``BEGIN`` also checks the level its connection last set, so no other
    transaction can run with NORMAL.
    """
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
        level = conn.get_execution_options().get(SYNC_OPTION, "FULL")
        if conn.info.get(_SYNC_INFO, "FULL") != level:
            conn.exec_driver_sql(f"PRAGMA synchronous={SYNC_LEVELS[level]}")
            conn.info[_SYNC_INFO] = level
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn, record):  # type: ignore[no-untyped-def]
        if dbapi_conn is None or record is None or record.info.get(_SYNC_INFO, "FULL") == "FULL":
            return
        try:
            dbapi_conn.execute("PRAGMA synchronous=FULL")  # back in the pool: every other transaction is durable
            record.info[_SYNC_INFO] = "FULL"
        except sqlite3.Error:
            pass  # the next BEGIN sets the level it needs (see _on_begin)

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


class _Job:
    """One ``retrying`` call waiting for a shared commit: its function and what came of it."""

    __slots__ = ("fn", "result", "error", "ok", "finished", "done")

    def __init__(self, fn: Callable[[Session], object]) -> None:
        self.fn = fn
        self.result: object = None
        self.error: BaseException | None = None
        self.ok = False
        self.finished = False
        self.done = threading.Event()

    def reset(self) -> None:
        self.result, self.error, self.ok = None, None, False


class _CommitGroup:
    """Group commit: threads of one process that write at the same time share one transaction and one commit.

    On SQLite every writer waits for the single write lock and each durable
    commit waits for the disk (an fsync, milliseconds), so writes by
    concurrent requests (agency sends, receipts) queued one fsync each. Here
    the first thread to arrive leads: it takes the lock and runs its own
    function and those of every thread that queued meanwhile, one after
    another in one transaction, commits once, and wakes them; whoever queued during that
    commit is handed the lead of the next batch. Each caller still returns
    only after its own writes are committed, and gets its own result or
    exception: a function that raises gets its exception and the others run
    again without it (``Database._commit_batch``). The functions run one
    after another in one transaction, which is what running them one after
    another in separate transactions gives, so no caller sees a difference
    but the time.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: list[_Job] = []
        self._busy = False

    def run(self, commit: Callable[[list[_Job]], None], fn: Callable[[Session], T]) -> T:
        job = _Job(fn)
        with self._mutex:
            self._waiting.append(job)
            leads = not self._busy
            self._busy = True
        if not leads:
            job.done.wait()  # set when a leader committed our job, or when we are handed the lead
        if not job.finished:
            self._lead(commit)
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _lead(self, commit: Callable[[list[_Job]], None]) -> None:
        with self._mutex:
            batch, self._waiting = self._waiting, []
        try:
            commit(batch)
        finally:
            for job in batch:
                if not job.ok and job.error is None:
                    job.error = RuntimeError("the write was interrupted before its commit")
                job.finished = True
                job.done.set()
            with self._mutex:
                if self._waiting:
                    self._waiting[0].done.set()  # it leads the next batch (its job is not finished)
                else:
                    self._busy = False


def _transient(exc: OperationalError) -> bool:
    text_ = str(exc).lower()
    return "locked" in text_ or "deadlock" in text_


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
        self._write_lazy = sessionmaker(
            self.engine.execution_options(**{SYNC_OPTION: "NORMAL"}), expire_on_commit=False
        )
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        self._path = path
        # group commit for writers of this process (SQLite files: one writer at a time, each commit an fsync)
        self._groups = {True: _CommitGroup(), False: _CommitGroup()} if self._lock is not None else None
        self._file_identity = _file_identity(path) if path is not None and path.exists() else None

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Session]:
        """A session in one writing transaction, committed on success.

        ``durable=False`` is for bookkeeping the protocol recovers by itself
        (see the module docstring): the commit does not wait for the disk.
        Anything an agency or a peer was told is stored (a 202, a receipt)
        must be written with the default.
        """
        if not self.sqlite:
            with self._write() as session, session.begin():
                if not durable:
                    session.execute(_NO_SYNC_COMMIT)
                yield session
            return
        factory = self._write if durable else self._write_lazy
        with self._lock.hold() if self._lock else nullcontext(), factory() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (no write lock on SQLite)."""
        with self._read() as session, session.begin():
            yield session

    def retrying(self, fn: Callable[[Session], T], attempts: int = 5, *, durable: bool = True) -> T:
        """Run ``fn`` in a write transaction, retrying on transient lock errors (``durable`` as in ``write``).

        On an SQLite file, concurrent calls of one process share a transaction
        and its commit (``_CommitGroup``); ``fn`` may then run after other
        callers' functions in the same transaction, and runs again if the
        shared transaction hits a transient lock error or another caller's
        function raises (so, as with any retry, ``fn`` must only write to the
        store).
        """
        if self._groups is not None:
            return self._groups[durable].run(lambda batch: self._commit_batch(batch, attempts, durable), fn)
        for i in range(attempts):
            try:
                with self.write(durable=durable) as session:
                    return fn(session)
            except OperationalError as exc:
                if i == attempts - 1 or not _transient(exc):
                    raise
                time.sleep(0.05 * (2**i))
        raise AssertionError("unreachable")

    def _commit_batch(self, batch: list[_Job], attempts: int, durable: bool) -> None:
        """Run ``batch`` in one transaction and commit it once.

        No savepoints (SQLite writes every page a savepoint touches to a
        statement journal: it halved the throughput of large batches). A
        function that raises instead rolls the whole transaction back: it gets
        its exception, and the rest of the batch runs again in a new
        transaction, as ``retrying`` runs a function again after a lock error.
        """
        pending = list(batch)
        tries = 0
        while pending:
            for job in pending:
                job.reset()
            failed: _Job | None = None
            try:
                with self.write(durable=durable) as session:
                    for job in pending:
                        failed = job
                        job.result = job.fn(session)
                        job.ok = True
                    failed = None
                return
            except Exception as exc:  # noqa: BLE001 - it belongs to its caller; the others run again
                if isinstance(exc, OperationalError):
                    tries += 1
                    if tries < attempts and _transient(exc):
                        time.sleep(0.05 * (2 ** (tries - 1)))
                        continue  # the whole batch again
                if failed is None or len(pending) == 1:
                    self._fail(pending, exc)  # the commit (or the only function) failed: nothing was written
                    return
                failed.error = exc
            pending = [job for job in pending if job is not failed]

    @staticmethod
    def _fail(batch: list[_Job], exc: BaseException) -> None:
        """Nothing of ``batch`` was committed: every caller gets ``exc`` (or its own function's error)."""
        for job in batch:
            job.ok = False
            if job.error is None:
                job.error = exc

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
