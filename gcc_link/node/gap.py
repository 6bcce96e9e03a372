"""Finding messages lost by a restore: ask the peers what they received from us since the backup.

A node restored from a backup has forgotten every message its agencies
sent after the backup was taken. Those that reached a peer are not lost to
the world: the peer holds them and the receipts it signed. ``gcc-link node
check-gap`` sends each peer a *signed* gap query (``typ``
``gcc-link-gap+jws``: ``{"gcc_link_gap": 1, "node", "since", "at"}``,
signed by this node like every other document, so only the sending state
learns about its own traffic, on plain HTTP in development as well as over
mTLS); the peer answers ``POST /peer/v1/gap`` with the receipts it signed
for messages from that state received since ``since``. The asking node
verifies each receipt offline (GCC root) and reports every message id a peer
holds that its own store does not: accepted, delivered, and lost here.
Messages accepted after the backup that never reached any peer cannot be
found by anyone; the report names the time window in which they were
accepted, so the agencies can be asked to re-send.

The other direction is lost too: messages the peers delivered to this
node after the backup (this node signed receipts for them, then forgot
them). The peer's answer carries those as well — each message exactly as it
was accepted, with this node's own receipt — and ``check-gap --recover``
verifies both (the message against the directory at its signing time, the
receipt as this state's acceptance of exactly those bytes) and puts them
back into the agencies' inboxes and the log, once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import requests
from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from ..protocol import signed
from ..protocol.canonical import sha256_hex
from ..protocol.errors import GccLinkError, MalformedError
from ..protocol.evidence import verify_signed_at
from ..protocol.identifiers import parse_state
from ..protocol.message import Message
from ..protocol.receipt import RECEIPT_TYP
from ..protocol.signed import open_unverified
from ..protocol.timefmt import format_time, parse_time
from . import logstore
from .apierrors import ApiError
from .context import NodeContext
from .models import InboxMessage, OutboxMessage
from .mtls import peer_state
from .receiving import inbox_row

__all__ = ["GAP_TYP", "bp", "check_gap", "gap_answer", "sign_gap_query"]

GAP_TYP = "gcc-link-gap+jws"
MAX_ANSWER = 10_000
MAX_ANSWER_BYTES = 32 * 1024 * 1024
bp = Blueprint("gap", __name__, url_prefix="/peer/v1")


def sign_gap_query(ctx: NodeContext, since: datetime) -> bytes:
    """This node's signed question: which messages from my state did you receive since ``since``?"""
    now = ctx.now()
    return signed.sign(
        ctx.identity,
        GAP_TYP,
        {"gcc_link_gap": 1, "node": ctx.state, "since": format_time(since), "at": format_time(now)},
        now,
    )


def _fields(payload: dict[str, Any]) -> dict[str, Any]:
    signed.require_fields(payload, frozenset({"gcc_link_gap", "node", "since", "at"}), frozenset(), "gap query")
    if payload["gcc_link_gap"] != 1:
        raise MalformedError("unknown gap query version")
    parse_state(payload["node"])
    parse_time(payload["since"])
    parse_time(payload["at"])
    return payload


def gap_answer(ctx: NodeContext, query: bytes) -> dict[str, Any]:
    """Verify a peer's gap query (live directory, clock window) and list our receipts for its messages."""
    verified = signed.verify(
        query,
        GAP_TYP,
        ctx.directory(),
        ctx.now(),
        fields=_fields,
        state_of=lambda p: str(p["node"]),
        max_bytes=16384,
        signed_at=lambda p: parse_time(p["at"]),
        window_seconds=signed.CLOCK_SKEW_SECONDS,
    )
    asker = str(verified.payload["node"])
    since = parse_time(verified.payload["since"]).timestamp()
    delivered: list[dict[str, str]] = []
    with ctx.db.read() as s:
        rows = (
            s.execute(
                select(InboxMessage.receipt)
                .where(InboxMessage.sender.like(f"{asker}/%"), InboxMessage.received_at >= since)
                .order_by(InboxMessage.seq)
                .limit(MAX_ANSWER + 1)
            )
            .scalars()
            .all()
        )
        sent = s.execute(
            select(OutboxMessage.id, OutboxMessage.jws, OutboxMessage.receipt)
            .where(
                OutboxMessage.peer == asker, OutboxMessage.status == "delivered", OutboxMessage.delivered_at >= since
            )
            .order_by(OutboxMessage.delivered_at)
            .limit(MAX_ANSWER + 1)
        ).all()
        budget, over_budget = MAX_ANSWER_BYTES, False
        for message_id, stored_jws, stored_receipt in sent[:MAX_ANSWER]:
            if stored_receipt is None:  # delivered rows carry their receipt; never answer without one
                continue
            jws: bytes | None = bytes(stored_jws)
            receipt = bytes(stored_receipt)
            budget -= len(stored_jws) + len(receipt)
            if budget < 0:  # the answer says truncated; the asker asks again with a later ``since``
                over_budget = True
                break
            # the version the receipt accepted (a retry may have re-signed the message since)
            wanted = open_unverified(receipt, RECEIPT_TYP, 1 << 20).get("message_sha256")
            if sha256_hex(stored_jws) != wanted:  # chained or still waiting for the sequencer
                jws = next((e.data for e in logstore.find(s, None, message_id) if e.item_sha256 == wanted), None)
            if jws is None:
                continue
            delivered.append({"message": bytes(jws).decode("ascii"), "receipt": receipt.decode("ascii")})
    return {
        "node": ctx.state,
        "for": asker,
        "since": verified.payload["since"],
        "receipts": [bytes(r).decode("ascii") for r in rows[:MAX_ANSWER]],
        "delivered": delivered,
        "truncated": len(rows) > MAX_ANSWER or len(sent) > MAX_ANSWER or over_budget,
    }


@bp.post("/gap")
def post_gap() -> Response:
    """A signed gap query in, the receipts for the asker's messages since then out."""
    c: NodeContext = current_app.extensions["gcc_link"]
    state = peer_state(c)
    data = request.get_data()
    try:
        answer = gap_answer(c, data)
    except GccLinkError as exc:
        raise ApiError(400 if exc.code == "malformed" else 403, exc.code, exc.message) from None
    if state is not None and state != answer["for"]:
        raise ApiError(403, "sender_not_authorised", "the query is not signed by the calling node")
    return Response(json.dumps(answer), status=200, mimetype="application/json")


def _received_lost(ctx: NodeContext, cc: str, items: list[Any], root: Any) -> tuple[list[dict[str, Any]], int]:
    """Messages ``cc`` delivered to us (with our receipts) that our inbox lacks; and how many failed checks."""
    out: list[dict[str, Any]] = []
    bad = 0
    for item in items:
        try:
            data = str(item["message"]).encode("ascii")
            receipt = str(item["receipt"]).encode("ascii")
            created = parse_time(open_unverified(data, "gcc-link-msg+jws", 1 << 24)["created_at"])
            message = Message.from_jws(
                data, directory=ctx.directory(), now=created, local_state=ctx.state, max_bytes=1 << 24
            )
            rcpt, signer = verify_signed_at(receipt, RECEIPT_TYP, root)
            if (
                message.sender_state != cc
                or signer != ctx.state
                or rcpt.get("status") != "accepted"
                or rcpt.get("receipt_for") != message.id
                or rcpt.get("message_sha256") != sha256_hex(data)
            ):
                raise MalformedError("not a message of this peer accepted by this node")
        except (GccLinkError, KeyError, TypeError, UnicodeError):
            bad += 1
            continue
        out.append(
            {
                "id": message.id,
                "peer": cc,
                "sender": message.sender,
                "recipient": message.recipient,
                "received_at": rcpt["received_at"],
                "message": message,
                "receipt": receipt,
            }
        )
    if out:
        with ctx.db.read() as s:
            known = set(s.execute(select(InboxMessage.id).where(InboxMessage.id.in_([o["id"] for o in out]))).scalars())
        out = [o for o in out if o["id"] not in known]
    return out, bad


def recover_received(ctx: NodeContext, lost: list[dict[str, Any]]) -> int:
    """Put messages this node had accepted (and receipted) back into the inbox and the log, once each."""
    now = ctx.now()
    done = 0

    def store(s: Any) -> int:
        logstore.order_inbox(s, [item["message"].recipient for item in lost])
        n = 0
        for item in lost:
            message: Message = item["message"]
            if s.execute(select(InboxMessage.id).where(InboxMessage.id == message.id)).scalar() is not None:
                continue
            row = inbox_row(
                ctx,
                message,
                message.jws,
                item["receipt"],
                parse_time(item["received_at"]).timestamp(),
                push=True,
                now=now.timestamp(),
            )
            s.add(InboxMessage(**row))
            s.flush()
            logstore.append(s, "message_received", message.id, message.jws, now)
            logstore.append(s, "receipt_signed", message.id, item["receipt"], now)
            n += 1
        return n

    if lost:
        done = ctx.db.retrying(store)
    return done


def check_gap(
    ctx: NodeContext, since: datetime, until: datetime | None = None, *, recover: bool = False
) -> dict[str, Any]:
    """Ask every other member what it received from us, and delivered to us, since ``since``.

    Reports ``lost`` (our messages a peer holds that our store lacks) and
    ``lost_received`` (messages a peer delivered to us, receipted by us, that
    our inbox lacks); with ``recover`` the latter are put back (``recovered``).
    """
    from .transport import peer_url, session

    directory = ctx.directory()
    root = directory.root_certificate
    query = sign_gap_query(ctx, since)
    peers: dict[str, Any] = {}
    lost: list[dict[str, Any]] = []
    lost_received: list[dict[str, Any]] = []
    for member in directory.members:
        cc = member.cc
        if cc == ctx.state:
            continue
        url = peer_url(ctx, cc, "/peer/v1/gap")
        try:
            r = session(ctx).post(
                url or "",
                data=query,
                headers={"Content-Type": "application/jose"},
                timeout=ctx.config.request_timeout_seconds,
            )
            answer = r.json() if r.status_code == 200 else None
        except (requests.RequestException, ValueError) as exc:
            peers[cc] = {"reachable": False, "error": type(exc).__name__}
            continue
        if not isinstance(answer, dict) or not isinstance(answer.get("receipts"), list):
            peers[cc] = {"reachable": True, "error": f"http {r.status_code}"}
            continue
        found: list[dict[str, Any]] = []
        bad = 0
        for item in answer["receipts"]:
            try:
                payload, signer = verify_signed_at(str(item).encode("ascii"), RECEIPT_TYP, root)
                if signer != cc or payload.get("status") != "accepted":
                    raise MalformedError("not an accepted receipt of this peer")
            except (GccLinkError, UnicodeError):
                bad += 1
                continue
            found.append(
                {
                    "id": payload["receipt_for"],
                    "peer": cc,
                    "received_at": payload["received_at"],
                    "message_sha256": payload["message_sha256"],
                }
            )
        ids = [f["id"] for f in found]
        known: set[str] = set()
        with ctx.db.read() as s:
            for i in range(0, len(ids), 500):
                known |= set(
                    s.execute(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids[i : i + 500]))).scalars()
                )
        missing = [f for f in found if f["id"] not in known]
        lost += missing
        given = answer.get("delivered")
        delivered: list[Any] = given if isinstance(given, list) else []
        gone, bad_delivered = _received_lost(ctx, cc, delivered, root)
        lost_received += gone
        peers[cc] = {
            "reachable": True,
            "received_since": len(found),
            "unknown_here": len(missing),
            "delivered_since": len(delivered),
            "missing_from_inbox": len(gone),
            "invalid_receipts": bad + bad_delivered,
            "truncated": bool(answer.get("truncated")),
        }
    recovered = recover_received(ctx, lost_received) if recover else 0
    return {
        "node": ctx.state,
        "since": format_time(since),
        "until": format_time(until or ctx.now()),
        "peers": peers,
        "lost": sorted(lost, key=lambda f: (f["received_at"], f["id"])),
        "lost_received": sorted(
            ({k: v for k, v in o.items() if k not in ("message", "receipt")} for o in lost_received),
            key=lambda f: (f["received_at"], f["id"]),
        ),
        "recovered": recovered,
        "complete": all(p.get("reachable") and "error" not in p and not p.get("truncated") for p in peers.values()),
    }
