"""The node's write path: durable and lazy commits, group commit, the delivery doorbell, backend keep-alive.

Real SQLite files, real threads, real sockets; PostgreSQL from ``postgres_url`` where marked.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from gcc_link.node.db import Database
from gcc_link.node.doorbell import Doorbell, ring
from gcc_link.node.transport import backend_post


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'node.sqlite'}")
    with database.write() as s:
        s.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
    yield database
    database.dispose()


def _sync_level(session) -> int:
    return int(session.execute(text("PRAGMA synchronous")).scalar_one())


def test_a_lazy_write_runs_with_synchronous_normal_and_the_connection_is_restored(db):
    with db.write() as s:
        assert _sync_level(s) == 2  # FULL: what an agency's 202 rests on
    with db.write(durable=False) as s:
        assert _sync_level(s) == 1  # NORMAL, set before BEGIN (SQLite refuses it inside a transaction)
        s.execute(text("INSERT INTO t VALUES (1)"))
        raw = s.connection().connection.dbapi_connection
    assert raw is not None
    assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # back in the pool at FULL
    with db.write() as s:
        assert s.connection().connection.dbapi_connection is raw  # the same pooled connection...
        assert _sync_level(s) == 2  # ...durable again
    with db.read() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 1  # the lazy write committed
    assert db.retrying(_sync_level, durable=False) == 1
    assert db.retrying(_sync_level) == 2


def test_concurrent_writers_share_one_commit_each_with_its_own_result(db):
    commits = []
    event.listen(db.engine, "commit", lambda conn: commits.append(1))
    release = threading.Event()
    results: dict[int, object] = {}

    def first(s):
        s.execute(text("INSERT INTO t VALUES (0)"))
        release.wait(10)  # holds the write while the others queue
        return "first"

    def insert(x: int):
        def fn(s):
            s.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
            if x == 3:
                raise ValueError("this caller's own failure")
            return x

        return fn

    def run(i: int, fn) -> None:
        try:
            results[i] = db.retrying(fn)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(0, first))]
    threads[0].start()
    time.sleep(0.2)
    # 1 and 2 insert new rows, 3 raises after inserting, 4 collides with row 0
    for i, fn in ((1, insert(1)), (2, insert(2)), (3, insert(3)), (4, insert(0))):
        threads.append(threading.Thread(target=run, args=(i, fn)))
        threads[-1].start()
    deadline = time.monotonic() + 10
    while len(db._groups[True]._waiting) < 4 and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(10)
    assert results[0] == "first" and results[1] == 1 and results[2] == 2
    assert isinstance(results[3], ValueError) and isinstance(results[4], IntegrityError)
    assert len(commits) == 2  # the first write alone, then the four queued ones in one transaction
    with db.read() as s:
        assert sorted(s.execute(text("SELECT x FROM t")).scalars()) == [
            0,
            1,
            2,
        ]  # 3's insert rolled back, the others ran again


def test_a_single_failing_write_commits_nothing_and_raises(db):
    def fn(s):
        s.execute(text("INSERT INTO t VALUES (7)"))
        raise KeyError("no")

    with pytest.raises(KeyError):
        db.retrying(fn)
    with db.read() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


@pytest.mark.slow
@pytest.mark.postgres
def test_a_lazy_write_on_postgresql_turns_synchronous_commit_off_for_that_transaction_only(postgres_url):
    database = Database(postgres_url)
    try:
        with database.write(durable=False) as s:
            assert s.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
        with database.write() as s:
            assert s.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    finally:
        database.dispose()


def test_the_doorbell_wakes_the_worker_at_once(tmp_path: Path):
    bell = Doorbell(tmp_path)
    try:
        assert bell.listening
        assert Doorbell(tmp_path).listening is False  # one worker per data directory listens
        started = time.monotonic()
        assert bell.wait(0.2) is False and time.monotonic() - started >= 0.15  # no ring: the poll interval
        threading.Timer(0.1, ring, args=(tmp_path,)).start()
        started = time.monotonic()
        assert bell.wait(30) is True
        assert time.monotonic() - started < 5
        ring(tmp_path)
        ring(tmp_path)
        assert bell.wait(1) is True  # both rings drained by one wake-up
        assert bell.wait(0.05) is False
    finally:
        bell.close()
    ring(tmp_path)  # nobody listening: silently nothing


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connections = 0

    def process_request(self, request, client_address) -> None:
        self.connections += 1  # one per accepted TCP connection
        super().process_request(request, client_address)


class _KeepAliveBackend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        data = json.dumps({"echo": body}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def test_backend_calls_reuse_one_connection_per_thread():
    server = _CountingServer(("127.0.0.1", 0), _KeepAliveBackend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/backend"
    try:

        def calls(n: int) -> None:
            for i in range(n):
                r = backend_post(url, json={"n": i}, timeout=5)
                assert r.status_code == 200 and r.json() == {"echo": {"n": i}}

        worker = threading.Thread(target=calls, args=(5,))  # a fresh thread: its own session
        worker.start()
        worker.join(10)
        assert server.connections == 1
        other = threading.Thread(target=calls, args=(3,))
        other.start()
        other.join(10)
        assert server.connections == 2  # another thread, another session and connection
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["development", "production"])
def test_a_queued_message_is_sent_at_once_not_at_the_next_poll(make_cluster, mode):
    """With a 30 s poll interval, a message still leaves within seconds: queuing it rings the worker."""
    from tests.node.nodeharness import wait_until

    cluster = make_cluster(["KW", "SA"], mode=mode, overrides={"delivery.poll_seconds": 30.0})
    kw = cluster.agency("KW/MOI")
    time.sleep(1.0)  # the worker has finished its first round and sleeps for the poll interval
    started = time.monotonic()
    r = kw.send("SA/MOI", {"n": 1})
    assert r.status_code == 202, r.text
    wait_until(lambda: kw.status(r.json()["id"])["status"] == "delivered", 10, 0.05, what="delivered")
    assert time.monotonic() - started < 10


def test_the_delivery_worker_claims_and_reschedules_lazily_but_queues_durably(inprocess_node):
    """The agency's 202 rests on a FULL commit; the worker's claim and retry bookkeeping commit with NORMAL."""
    from gcc_link.node.delivery import DeliveryWorker

    app, headers = inprocess_node
    ctx = app.extensions["gcc_link"]
    levels: list[int] = []

    def at_commit(conn) -> None:  # inside the transaction, just before COMMIT
        levels.append(int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one()))

    event.listen(ctx.db.engine, "commit", at_commit)
    try:
        r = app.test_client().post("/api/v1/messages", json={"recipient": "SA/MOI", "body": {"n": 1}}, headers=headers)
        assert r.status_code == 202, r.get_json()
        assert levels == [2]
        worker = DeliveryWorker(ctx, "test")
        claimed = [c for c in worker.claim(ctx.time() + 1, 500) if c.id == r.get_json()["id"]]
        assert len(claimed) == 1 and levels == [2, 1]
        worker.retry(claimed, "network: test")
        assert levels == [2, 1, 1]
    finally:
        event.remove(ctx.db.engine, "commit", at_commit)
    assert app.test_client().get(f"/api/v1/messages/{claimed[0].id}", headers=headers).get_json()["status"] == "queued"
