"""The message log store on SQLite (chained inline) and PostgreSQL (recorded, then chained by a sequencer).

The PostgreSQL tests show the property issue 12 asks for: appending to the
log, counting traffic and writing an inbox row take no lock shared by every
transaction, so concurrent transactions do not queue behind one another,
while the chain stays one valid hash chain and inbox cursors stay ordered.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from gcc_link.node import logstore, traffic
from gcc_link.node.db import Database, migrate
from gcc_link.protocol.msglog import verify_chain

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sqlite_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'node.sqlite'}"
    migrate(url)
    db = Database(url)
    yield db
    db.dispose()


@pytest.fixture
def pg_db(postgres_url):
    import psycopg

    name = "log_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    db = Database(url)
    yield db
    db.dispose()


def chain_of(db: Database) -> list:
    with db.read() as s:
        return [(logstore.to_chain(r), bytes(r.data)) for r in logstore.iter_entries(s)]


def test_sqlite_chains_inline_and_has_nothing_pending(sqlite_db):
    with sqlite_db.write() as s:
        logstore.append(s, "message_sent", "m1", b"first", NOW)
        logstore.append(s, "receipt_received", "m1", b"second", NOW)
    with sqlite_db.read() as s:
        assert logstore.head(s)[0] == 2
        assert logstore.pending_count(s) == 0
    assert logstore.drain(sqlite_db) == 0
    chain = chain_of(sqlite_db)
    assert [e.seq for e, _ in chain] == [1, 2] and verify_chain(chain) == []


@pytest.mark.postgres
def test_postgres_records_then_the_sequencer_chains_in_one_valid_chain(pg_db):
    with pg_db.write() as s:
        logstore.append(s, "message_sent", "m1", b"first", NOW)
        logstore.append(s, "receipt_received", "m1", b"second", NOW)
    with pg_db.read() as s:
        assert logstore.head(s)[0] == 0  # recorded, not chained yet
        assert logstore.pending_count(s) == 2
        found = logstore.find(s, None, "m1")  # lookups see recorded entries at once
        assert [(e.kind, e.seq, e.data) for e in found] == [
            ("message_sent", None, b"first"),
            ("receipt_received", None, b"second"),
        ]
    with pg_db.write() as s:
        logstore.append(s, "message_sent", "m2", b"third", NOW)
    assert logstore.drain(pg_db) == 3
    with pg_db.read() as s:
        assert logstore.pending_count(s) == 0
        assert logstore.head(s)[0] == 3
        assert [e.seq for e in logstore.find(s, "message_sent", "m1")] == [1]
    chain = chain_of(pg_db)
    assert [(e.ref, d) for e, d in chain] == [("m1", b"first"), ("m1", b"second"), ("m2", b"third")]
    assert verify_chain(chain) == []


@pytest.mark.postgres
def test_postgres_an_unknown_kind_fails_in_the_callers_transaction(pg_db):
    with pytest.raises(ValueError, match="unknown log entry kind"), pg_db.write() as s:
        logstore.append(s, "made_up", "m1", b"x", NOW)
    with pg_db.read() as s:
        assert logstore.pending_count(s) == 0


@pytest.mark.postgres
def test_postgres_appends_do_not_wait_for_each_other(pg_db):
    """A transaction holding an uncommitted append (and traffic count) does not block another's."""
    with pg_db.write() as held:
        logstore.append(held, "message_sent", "slow", b"slow", NOW)
        traffic.record(held, "SA", "sent", None, NOW)
        # a second connection, with a lock timeout: before issue 12 it queued on the log head row
        with pg_db.write() as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            logstore.append(other, "message_sent", "fast", b"fast", NOW)
            traffic.record(other, "SA", "sent", None, NOW)  # the next transaction id: the next shard
        with pg_db.read() as s:
            assert [e.ref for e in logstore.find(s, None, "fast")] == ["fast"]
            assert logstore.find(s, None, "slow") == []  # not committed yet
        assert logstore.drain(pg_db) == 1  # the committed one is chained without waiting for the other
    assert logstore.drain(pg_db) == 1
    chain = chain_of(pg_db)
    assert [e.ref for e, _ in chain] == ["fast", "slow"]  # chained in the order they became visible (committed)
    assert verify_chain(chain) == []
    with pg_db.read() as s:
        assert traffic.last_24h(s, NOW)["peers"]["SA"]["sent"] == 2  # summed over the shards
        assert s.execute(text("SELECT count(*) FROM traffic_hourly")).scalar() == 2  # two rows: two shards


@pytest.mark.postgres
def test_postgres_one_sequencer_at_a_time(pg_db):
    with pg_db.write() as s:
        logstore.append(s, "message_sent", "m1", b"one", NOW)
    with pg_db.write() as first:
        space, key = logstore.SEQUENCER_LOCK  # what a running sequencer holds
        first.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": space, "key": key})
        with pg_db.write() as second:
            assert logstore.sequence(second) == 0  # does not wait, does not chain twice
    with pg_db.write() as s:
        assert logstore.sequence(s) == 1


@pytest.mark.postgres
def test_postgres_inbox_order_is_per_recipient(pg_db):
    """Inserts for one agency wait for each other (cursor order); for another agency they do not."""
    with pg_db.write() as a:
        logstore.order_inbox(a, ["SA/MOI"])
        with pg_db.write() as b:
            b.execute(text("SET LOCAL lock_timeout = '300ms'"))
            logstore.order_inbox(b, ["SA/MOH", "QA/MOI"])  # other agencies: no wait
        with pytest.raises(OperationalError, match="lock timeout"), pg_db.write() as c:
            c.execute(text("SET LOCAL lock_timeout = '300ms'"))
            logstore.order_inbox(c, ["SA/MOI"])


@pytest.mark.postgres
def test_postgres_background_sequencer_chains_while_writers_run(pg_db):
    stop = threading.Event()
    thread = threading.Thread(target=logstore.LogSequencer(pg_db, interval=0.02).run_forever, args=(stop,))
    thread.start()
    try:

        def writer(w: int) -> None:
            for i in range(40):
                with pg_db.write() as s:
                    logstore.append(s, "message_sent", f"w{w}-{i}", f"{w}:{i}".encode(), NOW)

        writers = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in writers:
            t.start()
        for t in writers:
            t.join(timeout=120)
        for _ in range(200):  # bounded: the sequencer polls every 20 ms
            with pg_db.read() as s:
                if logstore.pending_count(s) == 0:
                    break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    chain = chain_of(pg_db)
    assert sorted(e.ref for e, _ in chain) == sorted(f"w{w}-{i}" for w in range(4) for i in range(40))
    assert verify_chain(chain) == []


def _alembic(url: str, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from gcc_link.dburl import sqlalchemy_url
    from gcc_link.node.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    getattr(command, action)(cfg, revision)


def _counters(db: Database) -> dict[tuple[str, str, str], float]:
    with db.read() as s:
        rows = s.execute(text("SELECT name, l1, l2, SUM(value) FROM metric_counters GROUP BY name, l1, l2")).all()
    return {(n, a, b): float(v) for n, a, b, v in rows}


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sharding_migration_keeps_every_count_and_goes_back(store, tmp_path, request):
    """s12_scaleout moves counts into shard 0 unchanged; the triggers then write shards; downgrade sums them."""
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    else:
        import psycopg

        base = request.getfixturevalue("postgres_url")
        name = "mig_" + uuid.uuid4().hex[:12]
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + "/" + name
    _alembic(url, "upgrade", "n10_counters")
    db = Database(url)
    try:
        insert = text(
            "INSERT INTO outbox (id, sender, recipient, peer, conversation_id, jws, status, attempts, "
            "next_attempt_at, created_at, signed_at, expires_at, versions) "
            "VALUES (:id, 'KW/MOI', 'SA/MOI', 'SA', :id, :jws, 'queued', 0, 0, 0, 0, 9e9, '')"
        )
        with db.write() as s:
            for i in range(3):
                s.execute(insert, {"id": f"m{i}", "jws": b"x"})
            s.execute(
                text(
                    "INSERT INTO traffic_hourly (hour, peer, direction, outcome, count) VALUES (1, 'SA', 'sent', 'ok', 7)"
                )
            )
        before = _counters(db)
        assert before[("sent", "SA", "queued")] == 3
        _alembic(url, "upgrade", "s12_scaleout")
        assert _counters(db) == before
        with db.write() as s:  # the recreated triggers count into the session's shard
            s.execute(insert, {"id": "m3", "jws": b"x"})
            s.execute(text("UPDATE outbox SET status = 'delivered', delivered_at = 1 WHERE id = 'm0'"))
        after = _counters(db)
        assert after[("sent", "SA", "queued")] == 3 and after[("sent", "SA", "delivered")] == 1
        with db.read() as s:
            assert traffic.last_24h(s, datetime.fromtimestamp(3600, UTC))["peers"]["SA"]["sent"] == 7
        _alembic(url, "downgrade", "n10_counters")
        assert _counters(db) == after
        with db.read() as s:
            assert s.execute(text("SELECT count(*) FROM traffic_hourly")).scalar() == 1
    finally:
        db.dispose()


@pytest.mark.postgres
def test_postgres_metrics_show_the_sequencers_backlog(pg_db):
    from types import SimpleNamespace

    from gcc_link.node.metrics import render

    ctx = SimpleNamespace(db=pg_db, time=lambda: NOW.timestamp())
    with pg_db.write() as s:
        for i in range(3):
            logstore.append(s, "message_sent", f"m{i}", b"x", NOW)
    assert b"gcc_link_log_pending_entries 3.0" in render(ctx)  # type: ignore[arg-type]
    logstore.drain(pg_db)
    assert b"gcc_link_log_pending_entries 0.0" in render(ctx)  # type: ignore[arg-type]


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_append_many_costs_the_same_statements_as_one_and_keeps_the_order(store, request):
    from sqlalchemy import event

    db = request.getfixturevalue("sqlite_db" if store == "sqlite" else "pg_db")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    items = [("message_received", f"m{i}", f"msg {i}".encode()) for i in range(10)]
    items += [("receipt_signed", f"m{i}", f"rcpt {i}".encode()) for i in range(10)]
    with db.write() as s:
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            logstore.append_many(s, items, NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == (1 if store == "postgres" else 3), statements  # not 3 per entry
    logstore.drain(db)
    chain = chain_of(db)
    assert [(e.kind, e.ref, d) for e, d in chain] == [(k, r, d) for k, r, d in items]
    assert verify_chain(chain) == []
