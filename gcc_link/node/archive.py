"""Retention: move old settled messages and the log prefix that records them into signed daily archives.

The store would otherwise grow forever. ``gcc-link node archive`` (and,
when ``retention.archive_in_worker`` is on, the delivery worker once an
hour) archives whole UTC days of the message log, oldest first, once the
day ended more than ``retention.days`` ago:

* the **log entries** of that day — always a contiguous prefix of the chain,
  so archives and database stay one chain — with their data (the exact JWS);
* every **outbox row** that is settled (``delivered``, ``failed`` or
  ``dead``) and **inbox row** that is acknowledged, created before the
  retention cut-off, whose log entries are all archived by now. A row still
  open (an unacknowledged inbox message, a queued message) stays in the
  database; its entries are archived all the same, and the row follows into
  the file of a later day once it settles.

One file per day, ``DATA_DIR/archive/<CC>-<YYYY-MM-DD>.jsonl``, JSON Lines:
a ``header`` (node, day, first seq, the previous entry's hash), the
``entry`` lines (each with its data, the exact JWS), the ``outbox``/``inbox``
row lines (their message and receipt named by SHA-256: the bytes are log
entries already, of this file or an earlier one), and a ``checkpoint``:
the node's signature (``gcc_link.protocol.evidence.sign_checkpoint``) over
the last entry's seq and hash. With only the GCC root certificate anyone can
check a file (:func:`verify_archive_lines`): every entry's hash chain, every
message and receipt signature (``verify_signed_at``), the checkpoint.

Crash safety: the file is written to a temporary name, fsynced and renamed
*before* anything is deleted, and the deletion is one transaction. A crash
between the two leaves a complete file and rows still in the database; the
next run first finishes that deletion (after checking that the file's
entries are the database's, hash for hash) and never writes the day again,
so nothing is lost and nothing is archived twice.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import delete, func, select

from ..protocol.canonical import sha256_hex
from ..protocol.errors import GccLinkError
from ..protocol.evidence import CHECKPOINT_TYP, sign_checkpoint, verify_signed_at
from ..protocol.message import MESSAGE_TYP
from ..protocol.msglog import GENESIS, ChainEntry, verify_chain
from ..protocol.pki import NodeIdentity
from ..protocol.receipt import RECEIPT_TYP
from ..protocol.timefmt import format_time
from . import logstore
from .db import Database
from .models import InboxMessage, LogEntry, OutboxMessage

__all__ = [
    "ARCHIVE_FORMAT",
    "ArchiveError",
    "ArchivedEntry",
    "archive_files",
    "iter_archived_entries",
    "find_archived_row",
    "run_archive",
    "verify_archive_lines",
]

ARCHIVE_FORMAT = 1
log = logging.getLogger("gcc_link.node.archive")
ARCHIVE_DIR = "archive"
_OUTBOX_FIELDS = (
    "id",
    "sender",
    "recipient",
    "peer",
    "service",
    "conversation_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "signed_at",
    "expires_at",
    "delivered_at",
    "last_error",
    "versions",
)
_INBOX_FIELDS = (
    "seq",
    "id",
    "recipient",
    "sender",
    "service",
    "conversation_id",
    "in_reply_to",
    "content_type",
    "message_sha256",
    "received_at",
    "acked_at",
    "push_status",
    "push_attempts",
    "push_next_at",
)


class ArchiveError(GccLinkError):
    """An archive file is unreadable or does not match the store it was cut from."""

    code = "archive_error"


@dataclass(frozen=True)
class ArchivedEntry:
    """A log entry read from an archive file (the same attributes as a ``LogEntry`` row)."""

    seq: int
    kind: str
    ref: str | None
    at: str
    item_sha256: str
    prev_hash: str
    entry_hash: str
    data: bytes

    def chain(self) -> ChainEntry:
        return ChainEntry(self.seq, self.kind, self.ref, self.at, self.item_sha256, self.prev_hash, self.entry_hash)


def archive_dir(data_dir: Path) -> Path:
    return data_dir / ARCHIVE_DIR


def _first_seq(path: Path) -> int:
    with path.open("r", encoding="utf-8") as fh:
        try:
            return int(json.loads(fh.readline())["first_seq"])
        except (ValueError, KeyError, TypeError):
            raise ArchiveError(f"{path.name} has no archive header") from None


def archive_files(data_dir: Path) -> list[Path]:
    """The node's archive files in chain order (by the first seq their header names)."""
    folder = archive_dir(data_dir)
    return sorted(folder.glob("*.jsonl"), key=_first_seq) if folder.is_dir() else []


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("r", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise ArchiveError(f"{path.name} line {n} is not JSON") from None
            if not isinstance(item, dict):
                raise ArchiveError(f"{path.name} line {n} is not an object")
            yield item


def _entry(item: dict[str, Any]) -> ArchivedEntry:
    try:
        return ArchivedEntry(
            int(item["seq"]),
            str(item["kind"]),
            item.get("ref"),
            str(item["at"]),
            str(item["item_sha256"]),
            str(item["prev_hash"]),
            str(item["entry_hash"]),
            str(item["data"]).encode("ascii"),
        )
    except (KeyError, TypeError, ValueError, UnicodeError) as exc:
        raise ArchiveError(f"malformed archive entry: {exc}") from None


def iter_archived_entries(data_dir: Path) -> Iterator[ArchivedEntry]:
    """Every archived entry, in chain order."""
    for path in archive_files(data_dir):
        for item in _lines(path):
            if item.get("type") == "entry":
                yield _entry(item)


def archived_head(data_dir: Path) -> tuple[int, str]:
    """``(seq, entry_hash)`` of the last archived entry, ``(0, GENESIS)`` with no archive."""
    files = archive_files(data_dir)
    if not files:
        return 0, GENESIS
    last: tuple[int, str] = (0, GENESIS)
    for item in _lines(files[-1]):
        if item.get("type") == "entry":
            last = (int(item["seq"]), str(item["entry_hash"]))
    return last


def find_archived_row(data_dir: Path, message_id: str) -> tuple[str, dict[str, Any]] | None:
    """``("outbox"|"inbox", row)`` of an archived message, newest file first (a linear scan)."""
    for path in reversed(archive_files(data_dir)):
        for item in _lines(path):
            if item.get("type") in ("outbox", "inbox") and item.get("id") == message_id:
                return str(item["type"]), item
    return None


def verify_archive_lines(
    paths: Iterable[Path], root: x509.Certificate, node: str | None = None, *, entries_too: bool = True
) -> dict[str, Any]:
    """Check archive files offline (GCC root only): chain, signatures, checkpoints. Never raises on bad input.

    ``entries_too=False`` checks only headers, continuity and checkpoints
    (``log verify`` checks every entry itself, walking archives and store).
    """
    problems: list[str] = []
    count = files = 0
    prev_seq: int | None = None
    prev_hash: str | None = None

    def order(path: Path) -> int:
        try:
            return _first_seq(path)
        except (ArchiveError, OSError, UnicodeError):
            return -1

    for path in sorted(paths, key=order):
        files += 1
        try:
            entries: list[ArchivedEntry] = []
            header: dict[str, Any] | None = None
            checkpoint: str | None = None
            for item in _lines(path):
                kind = item.get("type")
                if kind == "header":
                    header = item
                elif kind == "entry":
                    entries.append(_entry(item))
                elif kind == "checkpoint":
                    checkpoint = str(item["jws"])
            if header is None or header.get("gcc_link_archive") != ARCHIVE_FORMAT:
                raise ArchiveError("no archive header")
            if node is not None and header.get("node") != node:
                problems.append(f"{path.name}: archive of {header.get('node')}, expected {node}")
            start_seq, start_hash = int(header["first_seq"]) - 1, str(header["prev_hash"])
            if prev_seq is not None and (start_seq, start_hash) != (prev_seq, prev_hash):
                problems.append(f"{path.name}: does not continue the previous archive (after seq {prev_seq})")
            if entries_too:
                for entry in entries:
                    typ = RECEIPT_TYP if entry.kind.startswith("receipt") else MESSAGE_TYP
                    try:
                        verify_signed_at(entry.data, typ, root)
                    except GccLinkError as exc:
                        problems.append(f"{path.name}: entry {entry.seq}: {exc.code}: {exc.message}")
                chain = verify_chain(((e.chain(), e.data) for e in entries), start_hash=start_hash, start_seq=start_seq)
                problems += [f"{path.name}: entry {p.seq}: {p.problem}" for p in chain]
            if not entries or checkpoint is None:
                raise ArchiveError("no entries or no checkpoint")
            cp, signer = verify_signed_at(checkpoint.encode("ascii"), CHECKPOINT_TYP, root)
            if signer != header.get("node"):
                problems.append(f"{path.name}: the checkpoint is signed by {signer}, not {header.get('node')}")
            if (cp["seq"], cp["entry_hash"]) != (entries[-1].seq, entries[-1].entry_hash):
                problems.append(f"{path.name}: the checkpoint does not cover the last entry")
            count += len(entries)
            prev_seq, prev_hash = entries[-1].seq, entries[-1].entry_hash
        except GccLinkError as exc:
            problems.append(f"{path.name}: {exc.code}: {exc.message}")
        except (KeyError, TypeError, ValueError, UnicodeError, OSError) as exc:
            problems.append(f"{path.name}: malformed: {type(exc).__name__}: {exc}")
    return {
        "valid": not problems and files > 0,
        "files": files,
        "entries": count,
        "last_seq": prev_seq,
        "last_hash": prev_hash,
        "problems": problems[:100],
    }


# --- cutting archives ---------------------------------------------------------------------


def _day_end(at: str) -> datetime:
    day = datetime.strptime(at[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    return day + timedelta(days=1)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _row_line(kind: str, row: Any) -> dict[str, Any]:
    """A row's fields; its message and receipt by SHA-256 only (their bytes are log entries, never stored twice)."""
    fields = _OUTBOX_FIELDS if kind == "outbox" else _INBOX_FIELDS
    line: dict[str, Any] = {"type": kind, **{f: getattr(row, f) for f in fields}}
    line["jws_sha256"] = sha256_hex(bytes(row.jws))
    line["receipt_sha256"] = sha256_hex(bytes(row.receipt)) if row.receipt is not None else None
    return line


def _finish_pending(db: Database, data_dir: Path) -> dict[str, int]:
    """Complete a deletion a crash interrupted: files whose entries (or rows) are still in the store."""
    done = {"entries": 0, "outbox": 0, "inbox": 0}
    with db.read() as s:
        db_first = s.execute(select(func.min(LogEntry.seq))).scalar()
    if db_first is None:
        return done
    files = archive_files(data_dir)
    firsts = [_first_seq(p) for p in files]
    # the deletion is one transaction: only a file whose range reaches into the store's entries can be pending
    pending = [p for i, p in enumerate(files) if i + 1 == len(files) or firsts[i + 1] - 1 >= db_first]
    for path in pending:
        entries: dict[int, str] = {}
        outbox: list[str] = []
        inbox: list[str] = []
        for item in _lines(path):
            if item.get("type") == "entry":
                entries[int(item["seq"])] = str(item["entry_hash"])
            elif item.get("type") == "outbox":
                outbox.append(str(item["id"]))
            elif item.get("type") == "inbox":
                inbox.append(str(item["id"]))
        if not entries:
            continue
        lo, hi = min(entries), max(entries)
        with db.write() as s:
            still = s.execute(
                select(LogEntry.seq, LogEntry.entry_hash).where(LogEntry.seq >= lo, LogEntry.seq <= hi)
            ).all()
            for seq, entry_hash in still:
                if entries.get(seq) != entry_hash:
                    raise ArchiveError(f"{path.name}: entry {seq} differs from the store; refusing to delete")
            left_out = s.execute(select(OutboxMessage.id).where(OutboxMessage.id.in_(outbox or [""]))).scalars().all()
            left_in = s.execute(select(InboxMessage.id).where(InboxMessage.id.in_(inbox or [""]))).scalars().all()
            if still:
                s.execute(delete(LogEntry).where(LogEntry.seq >= lo, LogEntry.seq <= hi))
            if left_out:
                s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(left_out), OutboxMessage.status != "queued"))
            if left_in:
                s.execute(delete(InboxMessage).where(InboxMessage.id.in_(left_in)))
        done["entries"] += len(still)
        done["outbox"] += len(left_out)
        done["inbox"] += len(left_in)
    return done


def _blocked(s: Any, ids: list[str], last_seq: int) -> set[str]:
    """The ids among ``ids`` that still have log entries after ``last_seq`` (not all archived yet)."""
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        out |= set(
            s.execute(select(LogEntry.ref).where(LogEntry.seq > last_seq, LogEntry.ref.in_(chunk)).distinct()).scalars()
        )
    return out


def archive_day(
    db: Database, identity: NodeIdentity, data_dir: Path, cutoff: datetime, now: datetime, batch: int = 2000
) -> dict[str, Any] | None:
    """Archive the oldest day still in the store if it ended before ``cutoff``; None when nothing is due."""
    with db.read() as s:
        first = s.execute(select(LogEntry).order_by(LogEntry.seq).limit(1)).scalar_one_or_none()
        if first is None:
            return None
        day_end = _day_end(first.at)
        if day_end > cutoff:
            return None
        bound = format_time(day_end)
        entries: list[LogEntry] = []
        seq = first.seq
        while True:  # a contiguous run of the chain, in pages, up to the day's end
            rows = (
                s.execute(select(LogEntry).where(LogEntry.seq >= seq).order_by(LogEntry.seq).limit(batch))
                .scalars()
                .all()
            )
            stop = False
            for row in rows:
                if row.at >= bound or row.seq != seq:
                    stop = True
                    break
                entries.append(row)
                seq += 1
            if stop or len(rows) < batch:
                break
        last = entries[-1].seq
        ts = cutoff.timestamp()
        out_ids = list(
            s.execute(
                select(OutboxMessage.id).where(OutboxMessage.status != "queued", OutboxMessage.created_at < ts)
            ).scalars()
        )
        in_ids = list(
            s.execute(
                select(InboxMessage.id).where(InboxMessage.acked_at.is_not(None), InboxMessage.received_at < ts)
            ).scalars()
        )
        blocked = _blocked(s, out_ids + in_ids, last)
        out_rows = [
            r
            for i in range(0, len(out_ids), 500)
            for r in s.execute(
                select(OutboxMessage).where(OutboxMessage.id.in_([x for x in out_ids[i : i + 500] if x not in blocked]))
            ).scalars()
        ]
        in_rows = [
            r
            for i in range(0, len(in_ids), 500)
            for r in s.execute(
                select(InboxMessage).where(InboxMessage.id.in_([x for x in in_ids[i : i + 500] if x not in blocked]))
            ).scalars()
        ]
        lines: list[dict[str, Any]] = [
            {
                "type": "header",
                "gcc_link_archive": ARCHIVE_FORMAT,
                "node": identity.state,
                "day": first.at[:10],
                "first_seq": first.seq,
                "prev_hash": first.prev_hash,
                "written_at": format_time(now),
            }
        ]
        lines += [
            {
                "type": "entry",
                "seq": e.seq,
                "kind": e.kind,
                "ref": e.ref,
                "at": e.at,
                "item_sha256": e.item_sha256,
                "prev_hash": e.prev_hash,
                "entry_hash": e.entry_hash,
                "data": bytes(e.data).decode("ascii"),
            }
            for e in entries
        ]
        lines += [_row_line("outbox", r) for r in out_rows] + [_row_line("inbox", r) for r in in_rows]
    checkpoint = sign_checkpoint(identity, last, entries[-1].entry_hash, now)
    lines.append({"type": "checkpoint", "jws": checkpoint.decode("ascii")})
    folder = archive_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{identity.state}-{first.at[:10]}.jsonl"
    for n in range(2, 1000):  # entries of an archived day that arrived late (clock skew): a second part
        if not path.exists():
            break
        path = folder / f"{identity.state}-{first.at[:10]}.part{n}.jsonl"
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    _fsync_dir(folder)
    # the file is durable: now delete, in one transaction (a crash here is finished by the next run)
    with db.write() as s:
        s.execute(delete(LogEntry).where(LogEntry.seq >= first.seq, LogEntry.seq <= last))
        for i in range(0, len(out_rows), 500):
            s.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.id.in_([r.id for r in out_rows[i : i + 500]]), OutboxMessage.status != "queued"
                )
            )
        for i in range(0, len(in_rows), 500):
            s.execute(delete(InboxMessage).where(InboxMessage.id.in_([r.id for r in in_rows[i : i + 500]])))
    return {
        "file": str(path),
        "day": first.at[:10],
        "entries": len(entries),
        "first_seq": first.seq,
        "last_seq": last,
        "outbox": len(out_rows),
        "inbox": len(in_rows),
        "bytes": path.stat().st_size,
    }


def run_archive(
    db: Database, identity: NodeIdentity, data_dir: Path, now: datetime, retention_days: float, max_days: int = 366
) -> dict[str, Any]:
    """Finish any interrupted run, then archive every due day (oldest first, at most ``max_days``)."""
    recovered = _finish_pending(db, data_dir)
    logstore.drain(db)  # a day is cut from chained entries only (PostgreSQL records entries for a sequencer)
    cutoff = now - timedelta(days=retention_days)
    days: list[dict[str, Any]] = []
    for _ in range(max_days):
        result = archive_day(db, identity, data_dir, cutoff, now)
        if result is None:
            break
        days.append(result)
    return {"cutoff": format_time(cutoff), "recovered": recovered, "archived": days}


class ArchiveSchedule:
    """Archiving from the delivery worker (``retention.archive_in_worker``): at most once an hour.

    A ``flock`` on ``DATA_DIR/archive/.lock`` keeps two runs on one machine
    (a worker and an operator's ``gcc-link node archive``) from cutting the
    same day; with several machines on one PostgreSQL store, turn it on for
    one of them only (the archive folder is per machine).
    """

    INTERVAL_SECONDS = 3600.0

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.next_at = 0.0

    def tick(self) -> dict[str, Any] | None:
        """Run the archiving if enabled and due; returns its result (None when not run)."""
        cfg = self.ctx.config
        if not getattr(cfg, "archive_in_worker", False):
            return None
        now = self.ctx.time()
        if now < self.next_at:
            return None
        self.next_at = now + self.INTERVAL_SECONDS
        try:
            result = locked_run(self.ctx.db, self.ctx.identity, cfg.data_dir, self.ctx.now(), cfg.retention_days)
        except Exception:  # noqa: BLE001 - never stop delivery for archiving; retried in an hour
            log.exception("archiving failed")
            return None
        if result["archived"]:
            log.info("archived %d day(s) older than %s", len(result["archived"]), result["cutoff"])
        return result


def locked_run(
    db: Database, identity: NodeIdentity, data_dir: Path, now: datetime, retention_days: float
) -> dict[str, Any]:
    """``run_archive`` under the archive folder's lock (one run at a time on this machine)."""
    import fcntl

    folder = archive_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return run_archive(db, identity, data_dir, now, retention_days)
    finally:
        os.close(fd)
