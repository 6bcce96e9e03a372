"""The node's evidence operations over its store: verify the whole message log, export one bundle.

``gcc-link log verify`` and ``gcc-link evidence export`` call these; the
checks themselves are the core's (``protocol.msglog``, ``protocol.evidence``):
this module only reads the rows and hands them over.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from ..protocol.canonical import sha256_hex
from ..protocol.directory import load_directory
from ..protocol.errors import GccLinkError, NotFoundError
from ..protocol.evidence import build_bundle, sign_checkpoint, verify_signed_at
from ..protocol.message import MESSAGE_TYP
from ..protocol.msglog import verify_chain
from ..protocol.receipt import RECEIPT_TYP
from ..protocol.signed import open_unverified
from . import logstore
from .clock import utcnow
from .config import NodeConfig
from .context import load_identity
from .db import Database
from .directory_source import TRUSTED_FILE, fetch
from .models import InboxMessage, LogEntry, OutboxMessage

__all__ = ["export_bundle", "verify_log"]


def verify_log(config: NodeConfig, db: Database) -> dict[str, Any]:
    """Check the chain and every signature in the log (certificates against the directory root at signing time).

    The archives (``archive.py``) hold the chain's prefix: they are walked
    first, then the store, as one chain from the genesis hash, and each
    archive's signed checkpoint is checked too.
    """
    from .archive import archive_files, iter_archived_entries, verify_archive_lines

    trusted = config.data_dir / TRUSTED_FILE
    raw = trusted.read_bytes() if trusted.exists() else fetch(config.directory)
    root = load_directory(raw, utcnow(), allow_expired=True).root_certificate
    problems: list[str] = []
    count = 0
    archived = 0
    files = archive_files(config.data_dir)
    if files:
        checked = verify_archive_lines(files, root, config.state, entries_too=False)  # entries: below
        problems += [f"archive: {p}" for p in checked["problems"]]
    last_hash: str | None = None

    logstore.drain(db)  # entries recorded but not chained yet (PostgreSQL) join the chain first
    with db.read() as s:
        head_seq, head_hash = logstore.head(s)

        def entries():
            nonlocal count, archived, last_hash
            sources: list[Any] = [iter_archived_entries(config.data_dir), logstore.iter_entries(s)]
            for n, source in enumerate(sources):
                for row in source:
                    count += 1
                    archived += n == 0
                    typ = RECEIPT_TYP if row.kind.startswith("receipt") else MESSAGE_TYP
                    try:
                        verify_signed_at(row.data, typ, root)
                    except GccLinkError as exc:
                        problems.append(f"entry {row.seq}: {exc.code}: {exc.message}")
                    last_hash = row.entry_hash
                    yield logstore.to_chain(row), row.data  # type: ignore[arg-type]

        chain = verify_chain(entries())
    problems = [f"entry {p.seq}: {p.problem}" for p in chain] + problems
    if count != head_seq or (count and last_hash != head_hash):
        problems.append(f"the log head (seq {head_seq}) does not match the last entry ({count})")
    return {
        "valid": not problems,
        "entries": count,
        "archived_entries": archived,
        "archive_files": len(files),
        "head": head_hash,
        "problems": problems[:100],
    }


def _entries_for(config: NodeConfig, s: Any, message_id: str) -> list[Any]:
    """The log entries naming ``message_id``: archived ones (linear scan of the archives) and the store's."""
    from .archive import iter_archived_entries

    rows: list[Any] = [e for e in iter_archived_entries(config.data_dir) if e.ref == message_id]
    rows += s.execute(select(LogEntry).where(LogEntry.ref == message_id).order_by(LogEntry.seq)).scalars().all()
    return rows


def _entry_range(config: NodeConfig, s: Any, lo: int, hi: int) -> list[Any]:
    from .archive import iter_archived_entries

    out: list[Any] = []
    if lo < (s.execute(text("SELECT min(seq) FROM message_log")).scalar() or hi + 1):
        for e in iter_archived_entries(config.data_dir):
            if e.seq > hi:
                break
            if e.seq >= lo:
                out.append(e)
    out += list(logstore.iter_entries(s, max(lo, out[-1].seq + 1 if out else lo), hi))
    return out


def export_bundle(config: NodeConfig, db: Database, message_id: str) -> dict[str, Any]:
    """The evidence bundle of a settled message (sent and receipted, or received), checkpoint signed now.

    Works for archived messages too: the row and the entries are then read
    from the archive files (see ``archive.py``).
    """
    from .archive import find_archived_row

    identity = load_identity(config)
    logstore.drain(db)  # the message's entries may still wait for the sequencer (PostgreSQL)
    with db.read() as s:
        out = s.get(OutboxMessage, message_id)
        inb = s.execute(select(InboxMessage).where(InboxMessage.id == message_id)).scalar_one_or_none()
        out_receipt = out.receipt if out is not None else None
        inb_pair = (inb.receipt, inb.jws) if inb is not None else None
        rows = _entries_for(config, s, message_id)
        if out is None and inb is None:  # archived: the row names its message and receipt by digest
            found = find_archived_row(config.data_dir, message_id)
            by_sha = {r.item_sha256: bytes(r.data) for r in rows}
            if found is not None and found[1].get("receipt_sha256") in by_sha:
                receipt_bytes = by_sha[found[1]["receipt_sha256"]]
                if found[0] == "outbox":
                    out_receipt = receipt_bytes
                elif found[1].get("jws_sha256") in by_sha:
                    inb_pair = (receipt_bytes, by_sha[found[1]["jws_sha256"]])
        if out_receipt is not None:
            receipt = out_receipt
            rcpt_sha = sha256_hex(receipt)
            # the version of the message the receipt is for (a retry may have re-signed it)
            wanted = open_unverified(receipt, RECEIPT_TYP, 1 << 20)["message_sha256"]
            message = next((r.data for r in rows if r.kind == "message_sent" and r.item_sha256 == wanted), None)
        elif inb_pair is not None:
            receipt, message = inb_pair
            rcpt_sha = sha256_hex(receipt)
        else:
            raise NotFoundError(f"no settled message {message_id} on this node")
        if message is None:
            raise NotFoundError("the message is not in the log")
        msg_sha = sha256_hex(message)
        seqs = [r.seq for r in rows if r.item_sha256 in (msg_sha, rcpt_sha)]
        if len(seqs) < 2:
            raise NotFoundError("the message or its receipt is missing from the log")
        entries = [logstore.to_chain(r) for r in _entry_range(config, s, min(seqs), max(seqs))]
    checkpoint = sign_checkpoint(identity, entries[-1].seq, entries[-1].entry_hash, utcnow())
    return build_bundle(bytes(message), bytes(receipt), entries, checkpoint, config.state)
