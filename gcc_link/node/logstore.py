"""The message log in the node's database: recorded inside the caller's transaction, chained in order.

Every entry is written in the same transaction as the outbox or inbox row
it records, so the two commit or roll back together. How it is chained
depends on the store:

* **SQLite** (one writer at a time anyway: ``BEGIN IMMEDIATE``): the entry is
  chained at once, after the head row, in the caller's transaction.
* **PostgreSQL** (several workers and instances on one database): chaining
  in the caller's transaction would make the one head row a global lock held
  by every agency submit, receipt and inbox write until it commits, so adding
  workers would add waiters, not throughput (``BENCHMARKS.md``). Instead the
  caller records the entry in ``message_log_pending`` (no shared row), and a
  *sequencer* (``LogSequencer``, run by every delivery process; a PostgreSQL
  advisory lock lets one work at a time) chains the recorded entries in
  batches, in the order it finds them, within a fraction of a second. The
  chain itself, its verification, archives and evidence bundles are
  unchanged; an entry is tamper-evident once chained, and readers that need
  the whole chain (``log verify``, evidence export, archiving, backups)
  chain what is pending first (``drain``).

Inbox cursors no longer ride on the log head: ``order_inbox`` serialises the
inserts of one recipient agency only.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from ..protocol.msglog import ChainEntry, item_digest, next_entry
from ..protocol.timefmt import format_time
from .models import LogEntry, LogHead, LogPending

if TYPE_CHECKING:
    from .db import Database

__all__ = [
    "LogSequencer",
    "RecordedEntry",
    "SEQUENCER_LOCK",
    "append",
    "append_many",
    "deferred",
    "drain",
    "find",
    "head",
    "iter_entries",
    "order_inbox",
    "pending_count",
    "sequence",
    "to_chain",
]

log = logging.getLogger("gcc_link.node.logstore")

_HEAD: Table = LogHead.__table__  # type: ignore[assignment]
_ENTRIES: Table = LogEntry.__table__  # type: ignore[assignment]
_PENDING: Table = LogPending.__table__  # type: ignore[assignment]
_SELECT_HEAD = select(_HEAD.c.seq, _HEAD.c.entry_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_ENTRY = insert(_ENTRIES)
_INSERT_PENDING = insert(_PENDING)
_UPDATE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), entry_hash=bindparam("new_hash"))
#: PostgreSQL advisory lock keys (one namespace: "GCCL" as a 32-bit integer, then the purpose).
_LOCK_SPACE = 0x4743434C
#: The advisory lock (two 32-bit keys) a sequencer holds while it chains.
SEQUENCER_LOCK = (_LOCK_SPACE, 1)
#: Entries chained per sequencer transaction (bounded memory; the next round takes the rest).
SEQUENCE_BATCH = 2000


def deferred(session: Session) -> bool:
    """Whether this store records entries for the sequencer (PostgreSQL) instead of chaining them inline."""
    return session.get_bind().dialect.name != "sqlite"


def _row(entry: ChainEntry, item: bytes) -> dict[str, object]:
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "ref": entry.ref,
        "at": entry.at,
        "item_sha256": entry.item_sha256,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "data": bytes(item),
    }


def append(session: Session, kind: str, ref: str | None, item: bytes, now: datetime) -> None:
    """Record ``item`` (exact JWS bytes) in the log, in ``session``'s transaction."""
    append_many(session, [(kind, ref, item)], now)


def append_many(session: Session, items: Sequence[tuple[str, str | None, bytes]], now: datetime) -> None:
    """Record ``(kind, ref, item)`` entries in this order, in ``session``'s transaction.

    Three statements however many entries (read the head, one multi-row
    insert, move the head; on PostgreSQL one multi-row insert of recorded
    entries): a batch of messages costs the same round trips as one. Prebuilt
    SQLAlchemy Core statements, not ORM units of work: this runs for every
    message and receipt. Kinds are checked here, where the caller can still
    roll back, not at chaining time.
    """
    if not items:
        return
    conn = session.connection()
    at = format_time(now)
    if deferred(session):
        recorded = [
            {"kind": kind, "ref": ref, "at": at, "item_sha256": item_digest(kind, item), "data": bytes(item)}
            for kind, ref, item in items
        ]
        conn.execute(_INSERT_PENDING, recorded)
        return
    seq, prev = conn.execute(_SELECT_HEAD).one()
    rows = []
    for kind, ref, item in items:
        entry = next_entry(seq, prev, kind, ref, at, item)
        rows.append(_row(entry, item))
        seq, prev = entry.seq, entry.entry_hash
    conn.execute(_INSERT_ENTRY, rows)
    conn.execute(_UPDATE_HEAD, {"new_seq": seq, "new_hash": prev})


def sequence(session: Session, *, limit: int = SEQUENCE_BATCH, wait: bool = False) -> int:
    """Chain up to ``limit`` recorded entries after the head, in this transaction; returns how many.

    Only one sequencer works at a time (a transaction-scoped advisory lock);
    with ``wait=False`` a busy lock returns 0 at once, as another process is
    doing the work. Entries are chained in the order of their recording ids
    among those visible now: one recorded by a transaction that commits later
    is chained in a later round, so the chain order is the order in which
    entries became durable and visible, which is all the chain claims.
    """
    if not deferred(session):
        return 0
    conn = session.connection()
    lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    got = conn.execute(
        text(f"SELECT {lock}(:space, :key)"), {"space": SEQUENCER_LOCK[0], "key": SEQUENCER_LOCK[1]}
    ).scalar()
    if got is False:
        return 0
    rows = conn.execute(
        select(_PENDING.c.id, _PENDING.c.kind, _PENDING.c.ref, _PENDING.c.at, _PENDING.c.data)
        .order_by(_PENDING.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    seq, prev = conn.execute(_SELECT_HEAD).one()
    chained: list[dict[str, object]] = []
    for _id, kind, ref, at, data in rows:
        entry = next_entry(seq, prev, kind, ref, at, bytes(data))
        chained.append(_row(entry, data))
        seq, prev = entry.seq, entry.entry_hash
    conn.execute(_INSERT_ENTRY, chained)
    conn.execute(delete(_PENDING).where(_PENDING.c.id.in_([r[0] for r in rows])))
    conn.execute(_UPDATE_HEAD, {"new_seq": seq, "new_hash": prev})
    return len(rows)


def pending_count(session: Session) -> int:
    """Entries recorded but not chained yet (always 0 on SQLite)."""
    return int(session.execute(select(func.count()).select_from(_PENDING)).scalar_one())


def drain(db: Database, max_rounds: int = 1000) -> int:
    """Chain everything recorded so far (waiting for a running sequencer), for readers of the whole chain.

    Bounded: entries recorded while this
    runs may still be chained by a later round, which is harmless to callers
    that only need what was committed before they started.
    """
    total = 0
    for _ in range(max_rounds):
        with db.write() as s:
            if not deferred(s):
                return 0
            n = sequence(s, wait=True)
        total += n
        if n < SEQUENCE_BATCH:
            return total
    return total


def order_inbox(session: Session, recipients: Iterable[str]) -> None:
    """Make this transaction's inbox inserts for ``recipients`` commit in cursor order.

    Inbox cursors are the rows' sequence numbers, read per recipient; two
    transactions inserting for the same agency must not commit out of order
    (a reader would skip the lower number forever). SQLite serialises all
    writers already; PostgreSQL takes a transaction-scoped advisory lock per
    recipient agency (sorted, so two transactions never deadlock), so inserts
    for different agencies run in parallel.
    """
    if not deferred(session):
        return
    conn = session.connection()
    for agency in sorted(set(recipients)):
        key = zlib.crc32(agency.encode("utf-8")) - (1 << 31)  # signed 32-bit
        conn.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _LOCK_SPACE + 1, "key": key})


@dataclass(frozen=True)
class RecordedEntry:
    """A log entry as callers look it up: chained (``seq`` set) or recorded and waiting (``seq`` None)."""

    seq: int | None
    kind: str
    ref: str | None
    at: str
    item_sha256: str
    data: bytes


def find(session: Session, kind: str | None, ref: str) -> list[RecordedEntry]:
    """The entries about ``ref`` (a message id; of ``kind`` unless None), chained or waiting, oldest first.

    Indexed by ref in both tables, so it is cheap enough for the per-request idempotency checks.
    """
    q = select(LogEntry.seq, LogEntry.kind, LogEntry.ref, LogEntry.at, LogEntry.item_sha256, LogEntry.data).where(
        LogEntry.ref == ref
    )
    chained = session.execute((q if kind is None else q.where(LogEntry.kind == kind)).order_by(LogEntry.seq)).all()
    out = [RecordedEntry(r[0], r[1], r[2], r[3], r[4], bytes(r[5])) for r in chained]
    w = select(LogPending.kind, LogPending.ref, LogPending.at, LogPending.item_sha256, LogPending.data).where(
        LogPending.ref == ref
    )
    waiting = session.execute((w if kind is None else w.where(LogPending.kind == kind)).order_by(LogPending.id)).all()
    out += [RecordedEntry(None, r[0], r[1], r[2], r[3], bytes(r[4])) for r in waiting]
    return out


def to_chain(row: LogEntry) -> ChainEntry:
    return ChainEntry(row.seq, row.kind, row.ref, row.at, row.item_sha256, row.prev_hash, row.entry_hash)


def iter_entries(session: Session, start: int = 1, stop: int | None = None, batch: int = 500) -> Iterator[LogEntry]:
    """Chained entries in order from ``start`` (inclusive) to ``stop`` (inclusive), in pages."""
    seq = start
    while True:
        q = select(LogEntry).where(LogEntry.seq >= seq).order_by(LogEntry.seq).limit(batch)
        if stop is not None:
            q = q.where(LogEntry.seq <= stop)
        rows = session.execute(q).scalars().all()
        if not rows:
            return
        yield from rows
        seq = rows[-1].seq + 1


def head(session: Session) -> tuple[int, str]:
    row = session.execute(select(LogHead).where(LogHead.id == 1)).scalar_one()
    return row.seq, row.entry_hash


class LogSequencer:
    """Chains recorded entries in the background (PostgreSQL stores; a no-op loop on SQLite).

    Run by every delivery process, so a node with several instances keeps
    chaining when one dies; the advisory lock in ``sequence`` lets one work at
    a time. It polls every ``interval`` seconds while idle and goes straight
    on while there is a backlog.
    """

    def __init__(self, db: Database, interval: float = 0.1) -> None:
        self.db = db
        self.interval = interval

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with self.db.write() as s:
                    if not deferred(s):
                        return  # SQLite chains inline: nothing to do, ever
                    n = sequence(s)
            except Exception:  # noqa: BLE001 - a database hiccup must not stop chaining for good
                log.exception("log sequencer round failed; retrying")
                n = 0
            if n < SEQUENCE_BATCH:
                stop.wait(self.interval)
