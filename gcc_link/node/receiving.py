"""Receiving messages from peer nodes: verify, store exactly once, answer with a receipt.

Every message gets a signed receipt: ``accepted`` (the message and receipt
are committed to the inbox and log first) or ``rejected`` with the protocol
code. A message id already accepted from the same sender gets the original
receipt back and no second inbox entry (idempotent retries, replay
protection); the same id from another sender is rejected ``id_conflict``,
never answered with someone else's receipt.

Rejections of input that names no sender (not even an unverified one) are
answered but not stored: they prove nothing about anyone, and storing them
would let unauthenticated garbage fill the disk.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..protocol.canonical import canonical_json, sha256_hex
from ..protocol.errors import (
    IdConflictError,
    MalformedError,
    RejectionError,
    SenderNotAuthorisedError,
    WrongRecipientError,
)
from ..protocol.identifiers import state_of
from ..protocol.limits import MAX_JSON_DEPTH
from ..protocol.message import Message, peek_claims
from ..protocol.receipt import Receipt
from . import logstore, traffic
from .apierrors import STATUS_BY_CODE
from .context import NodeContext
from .models import Grant, InboxMessage, Rejection, Service
from .shards import ShardedStatement

log = logging.getLogger("gcc_link.node.receiving")
_INSERT_INBOX = insert(InboxMessage)
_INSERT_REJECTION = insert(Rejection)
#: The outcome code of a message that could not be stored (never acknowledged; the sender retries).
INTERNAL = "internal_error"
#: Marks a rejection of input that names no sender: answered with a receipt, not stored (only counted).
UNSTORED = "unstored"
_UNSAVED = ("duplicate", UNSTORED)
_COUNT_UNSTORED = ShardedStatement(
    "INSERT INTO metric_counters (name, l1, l2, shard, value) VALUES ('rejected', :code, '', {shard}, 1) "
    "ON CONFLICT (name, l1, l2, shard) DO UPDATE SET value = metric_counters.value + 1"
)


@dataclass(frozen=True)
class Outcome:
    """What happened to one received message: the receipt bytes and HTTP status."""

    receipt: bytes
    accepted: bool
    code: str | None
    duplicate: bool = False
    stored: bool = True


def grant_checker(session: Session):
    """A ``has_grant(sender, service)`` over the store: the service exists and the sender agency holds a grant.

    Grants name one agency each (``KW/MOI``); there are no wildcards.
    """
    services = set(session.execute(select(Service.id)).scalars())
    grants = {(g.service, g.grantee) for g in session.execute(select(Grant)).scalars()}

    def has_grant(sender: str, service: str) -> bool:
        return service in services and (service, sender) in grants

    return has_grant


def _existing(session: Session, ids: list[str]) -> dict[str, tuple[str, bytes, str]]:
    """``{id: (message_sha256, receipt, sender)}`` of the inbox rows with these ids (only those columns)."""
    if not ids:
        return {}
    rows = session.execute(
        select(InboxMessage.id, InboxMessage.message_sha256, InboxMessage.receipt, InboxMessage.sender).where(
            InboxMessage.id.in_(ids)
        )
    ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def verify_incoming(ctx: NodeContext, data: bytes, now: datetime, has_grant, peer_state: str | None) -> Message:
    """All protocol checks for a message received by this node (plus: recipient agency known, and
    over mTLS the relaying node is the sender's state); raises the rejection."""
    message = Message.from_jws(
        data,
        directory=ctx.directory(),
        now=now,
        local_state=ctx.state,
        has_grant=has_grant,
        max_bytes=ctx.config.max_body_bytes,
    )
    if message.recipient not in ctx.config.agency_ids:
        raise WrongRecipientError(f"{message.recipient} is not an agency of {ctx.state}")
    if peer_state is not None and message.sender_state != peer_state:
        raise SenderNotAuthorisedError(f"a {peer_state} node cannot relay messages of {message.sender_state}")
    return message


def receive_many(
    ctx: NodeContext, items: list[bytes], *, peer_state: str | None = None, push: bool = False
) -> list[Outcome]:
    """Process received message JWS in order; commits once for the whole batch."""
    now = ctx.now()
    outcomes: list[Outcome | None] = [None] * len(items)
    with ctx.db.read() as session:
        has_grant = grant_checker(session)
        claims = [peek_claims(d) for d in items]
        ids = [c[0] for c in claims]
        existing_receipts = _existing(session, [i for i in ids if i])
    pending: list[tuple[int, Message | None, bytes, Receipt | None, str | None]] = []
    seen: dict[str, str] = {}
    for n, data in enumerate(items):
        mid = ids[n]
        if mid in existing_receipts and existing_receipts[mid][0] == sha256_hex(data):
            outcomes[n] = Outcome(existing_receipts[mid][1], True, None, duplicate=True)
            continue
        try:
            message = verify_incoming(ctx, data, now, has_grant, peer_state)
            first_sender = existing_receipts[message.id][2] if message.id in existing_receipts else seen.get(message.id)
            if first_sender is not None and first_sender != message.sender:
                raise IdConflictError(f"message id {message.id} was already used by another sender")
        except RejectionError as exc:
            receipt = Receipt.create(
                ctx.identity, message_jws=data, message_id=mid, status="rejected", code=exc.code, now=now
            )
            # kept as evidence only when the input names a sender; otherwise answered, counted, not stored
            pending.append((n, None, data, receipt, exc.code if claims[n][1] else UNSTORED))
            continue
        if message.id in existing_receipts or message.id in seen:
            pending.append((n, message, data, None, "duplicate"))
            continue
        seen[message.id] = message.sender
        receipt = Receipt.create(
            ctx.identity, message_jws=data, message_id=message.id, status="accepted", code=None, now=now
        )
        pending.append((n, message, data, receipt, None))
    # built before the write transaction: the store's write lock is held only for the inserts
    ts = now.timestamp()
    rows = {
        n: inbox_row(ctx, m, d, r.jws, ts, push=push, now=ts)
        for n, m, d, r, code in pending
        if m is not None and r is not None and code is None
    }
    try:
        ctx.db.retrying(lambda s: _store(ctx, s, pending, now, rows))
    except IntegrityError:
        # a concurrent worker stored one of these ids first: settle them one by one
        for one in pending:
            try:
                ctx.db.retrying(functools.partial(_store, ctx, pending=[one], now=now, rows=rows))
            except IntegrityError:
                pass
    accepted_ids = [m.id for _n, m, _d, _r, _c in pending if m is not None]
    with ctx.db.read() as session:
        stored = {k: v[1] for k, v in _existing(session, accepted_ids).items()}
    for n, msg, _data, own, _code in pending:
        if msg is not None:
            if msg.id in stored:
                original = stored[msg.id]
                outcomes[n] = Outcome(original, True, None, duplicate=own is None or original != own.jws)
        elif own is not None:
            outcomes[n] = Outcome(own.jws, False, own.code, stored=_code != UNSTORED)
    for n, outcome in enumerate(outcomes):
        if outcome is None:  # could not be stored: never claim acceptance
            outcomes[n] = Outcome(b"", False, INTERNAL)
    return outcomes  # type: ignore[return-value]


def inbox_row(
    ctx: NodeContext, message: Message, jws: bytes, receipt: bytes, received_at: float, *, push: bool, now: float
) -> dict[str, Any]:
    """The inbox row of an accepted message (receiving, and ``check-gap --recover`` putting one back)."""
    agency = ctx.config.agency(message.recipient)
    return dict(
        id=message.id,
        recipient=message.recipient,
        sender=message.sender,
        service=message.service,
        conversation_id=message.conversation_id,
        in_reply_to=message.in_reply_to,
        content_type=message.content_type,
        body=canonical_json(message.body).decode("utf-8"),
        jws=jws,
        message_sha256=message.sha256,
        receipt=receipt,
        received_at=received_at,
        push_status="pending" if (push and agency and agency.webhook_url) else None,
        push_attempts=0,
        push_next_at=now,
    )


def _store(ctx: NodeContext, session: Session, pending, now: datetime, rows: dict[int, dict[str, Any]]) -> None:
    """Insert what ``pending`` accepted (``rows``: their prebuilt inbox rows by index) or rejected, with log entries.

    Traffic is counted once per (peer state, outcome) for the whole batch, not per message.
    """
    ts = now.timestamp()
    counts: Counter[tuple[str, str | None]] = Counter()
    stored = [m.recipient for _n, m, _d, r, code in pending if m is not None and r is not None and code not in _UNSAVED]
    logstore.order_inbox(session, stored)
    entries: list[tuple[str, str | None, bytes]] = []  # appended together after the loop, in this order
    for n, message, data, receipt, code in pending:
        if code == UNSTORED and receipt is not None:
            # one counter row, never a stored copy
            session.execute(_COUNT_UNSTORED(session), {"code": receipt.code or ""})
            continue
        if code in _UNSAVED:
            continue
        if message is not None and receipt is not None:
            session.connection().execute(_INSERT_INBOX, rows[n])
            entries += [("message_received", message.id, data), ("receipt_signed", message.id, receipt.jws)]
            counts[(message.sender_state, None)] += 1
        elif receipt is not None:
            session.connection().execute(
                _INSERT_REJECTION, dict(message_id=receipt.receipt_for, code=receipt.code or "", at=ts, peer=None)
            )
            entries.append(("receipt_signed", receipt.receipt_for, receipt.jws))
            sender = peek_claims(data)[1]
            if sender is not None:
                counts[(state_of(sender), receipt.code)] += 1
    logstore.append_many(session, entries, now)
    for (state, outcome), n_messages in counts.items():
        traffic.record(session, state, "received", outcome, now, n_messages)


def receipt_status(code: str | None) -> int:
    """HTTP status of a single-message answer."""
    return 202 if code is None else STATUS_BY_CODE.get(code, 400)


def parse_batch(raw: bytes) -> list[bytes]:
    """The JSON list of compact JWS strings of a batch request (``MalformedError`` else).

    A batch is one flat list; anything nested is refused before it is decoded, so absurd nesting costs nothing.
    """
    if raw.count(b"[") > 1 or raw.count(b"{") > 0:
        raise MalformedError(
            f"a batch is one flat JSON list of message JWS strings (no nesting; limit "
            f"{MAX_JSON_DEPTH} applies inside messages)"
        )
    try:
        items = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedError("a batch is a JSON list of message JWS strings") from None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise MalformedError("a batch is a JSON list of message JWS strings")
    return [i.encode("ascii", "replace") for i in items]
