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
from .config import NodeConfig
from .clock import utcnow
from .context import load_identity
from .db import Database
from .directory_source import TRUSTED_FILE, fetch
from .models import InboxMessage, LogEntry, OutboxMessage

__all__ = ["export_bundle", "verify_log"]


def verify_log(config: NodeConfig, db: Database) -> dict[str, Any]:
    """Check the chain and every signature in the log (certificates against the directory root at signing time)."""
    trusted = config.data_dir / TRUSTED_FILE
    raw = trusted.read_bytes() if trusted.exists() else fetch(config.directory)
    root = load_directory(raw, utcnow(), allow_expired=True).root_certificate
    problems: list[str] = []
    count = 0

    with db.read() as s:
        head_seq, head_hash = logstore.head(s)

        def entries():
            nonlocal count
            for row in logstore.iter_entries(s):
                count += 1
                typ = RECEIPT_TYP if row.kind.startswith("receipt") else MESSAGE_TYP
                try:
                    verify_signed_at(row.data, typ, root)
                except GccLinkError as exc:
                    problems.append(f"entry {row.seq}: {exc.code}: {exc.message}")
                yield logstore.to_chain(row), row.data

        chain = verify_chain(entries())
        last_hash = None
        if count:
            last_hash = s.execute(text("SELECT entry_hash FROM message_log ORDER BY seq DESC LIMIT 1")).scalar_one()
    problems = [f"entry {p.seq}: {p.problem}" for p in chain] + problems
    if count != head_seq or (count and last_hash != head_hash):
        problems.append(f"the log head (seq {head_seq}) does not match the last entry ({count})")
    return {"valid": not problems, "entries": count, "head": head_hash, "problems": problems[:100]}


def export_bundle(config: NodeConfig, db: Database, message_id: str) -> dict[str, Any]:
    """The evidence bundle of a settled message (sent and receipted, or received), checkpoint signed now."""
    identity = load_identity(config)
    with db.read() as s:
        out = s.get(OutboxMessage, message_id)
        inb = s.execute(select(InboxMessage).where(InboxMessage.id == message_id)).scalar_one_or_none()
        if out is not None and out.receipt is not None:
            receipt = out.receipt
            rows = s.execute(select(LogEntry).where(LogEntry.ref == message_id).order_by(LogEntry.seq)).scalars().all()
            rcpt_sha = sha256_hex(receipt)
            # the version of the message the receipt is for (a retry may have re-signed it)
            wanted = open_unverified(receipt, RECEIPT_TYP, 1 << 20)["message_sha256"]
            message = next((r.data for r in rows if r.kind == "message_sent" and r.item_sha256 == wanted), None)
        elif inb is not None:
            receipt, message = inb.receipt, inb.jws
            rcpt_sha = sha256_hex(receipt)
            rows = s.execute(select(LogEntry).where(LogEntry.ref == message_id).order_by(LogEntry.seq)).scalars().all()
        else:
            raise NotFoundError(f"no settled message {message_id} on this node")
        if message is None:
            raise NotFoundError("the message is not in the log")
        msg_sha = sha256_hex(message)
        seqs = [r.seq for r in rows if r.item_sha256 in (msg_sha, rcpt_sha)]
        if len(seqs) < 2:
            raise NotFoundError("the message or its receipt is missing from the log")
        entries = [logstore.to_chain(r) for r in logstore.iter_entries(s, min(seqs), max(seqs))]
    checkpoint = sign_checkpoint(identity, entries[-1].seq, entries[-1].entry_hash, utcnow())
    return build_bundle(message, receipt, entries, checkpoint, config.state)
