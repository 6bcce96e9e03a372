"""The message log in the node's database: append inside the caller's transaction.

Appends lock the single head row (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so the chain stays
linear across processes, and the entry commits or rolls back together with
the outbox or inbox row it records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from ..protocol.msglog import ChainEntry, next_entry
from ..protocol.timefmt import format_time
from .models import LogEntry, LogHead

_HEAD: Table = LogHead.__table__  # type: ignore[assignment]
_ENTRIES: Table = LogEntry.__table__  # type: ignore[assignment]
_SELECT_HEAD = select(_HEAD.c.seq, _HEAD.c.entry_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_ENTRY = insert(_ENTRIES)
_UPDATE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), entry_hash=bindparam("new_hash"))


def lock(session: Session) -> None:
    """Take the log head lock now (PostgreSQL), before inserting inbox rows in this transaction.

    Inbox cursors are sequence numbers; taking the lock first makes them
    commit in order, so a reader never sees seq 11 before seq 10 commits.
    """
    session.connection().execute(_SELECT_HEAD).one()


def append(session: Session, kind: str, ref: str | None, item: bytes, now: datetime) -> ChainEntry:
    """Append ``item`` (exact JWS bytes) to the log in ``session``'s transaction.

    Prebuilt SQLAlchemy Core statements on the session's connection (not ORM
    units of work): this runs for every message and receipt.
    """
    conn = session.connection()
    seq, prev = conn.execute(_SELECT_HEAD).one()
    entry = next_entry(seq, prev, kind, ref, format_time(now), item)
    conn.execute(
        _INSERT_ENTRY,
        {
            "seq": entry.seq,
            "kind": entry.kind,
            "ref": entry.ref,
            "at": entry.at,
            "item_sha256": entry.item_sha256,
            "prev_hash": entry.prev_hash,
            "entry_hash": entry.entry_hash,
            "data": bytes(item),
        },
    )
    conn.execute(_UPDATE_HEAD, {"new_seq": entry.seq, "new_hash": entry.entry_hash})
    return entry


def to_chain(row: LogEntry) -> ChainEntry:
    return ChainEntry(row.seq, row.kind, row.ref, row.at, row.item_sha256, row.prev_hash, row.entry_hash)


def iter_entries(session: Session, start: int = 1, stop: int | None = None, batch: int = 500) -> Iterator[LogEntry]:
    """Entries in order from ``start`` (inclusive) to ``stop`` (inclusive), in pages."""
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


def find(session: Session, kind: str, ref: str) -> list[LogEntry]:
    """The entries of ``kind`` about ``ref`` (a message id), oldest first (indexed by ref)."""
    return list(
        session.execute(
            select(LogEntry).where(LogEntry.ref == ref, LogEntry.kind == kind).order_by(LogEntry.seq)
        ).scalars()
    )


def head(session: Session) -> tuple[int, str]:
    row = session.execute(select(LogHead).where(LogHead.id == 1)).scalar_one()
    return row.seq, row.entry_hash
