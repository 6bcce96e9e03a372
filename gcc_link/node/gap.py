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
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import requests
from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from ..protocol import signed
from ..protocol.errors import GccLinkError, MalformedError
from ..protocol.evidence import verify_signed_at
from ..protocol.identifiers import parse_state
from ..protocol.receipt import RECEIPT_TYP
from ..protocol.timefmt import format_time, parse_time
from .apierrors import ApiError
from .context import NodeContext
from .models import InboxMessage, OutboxMessage
from .mtls import peer_state

__all__ = ["GAP_TYP", "bp", "check_gap", "gap_answer", "sign_gap_query"]

GAP_TYP = "gcc-link-gap+jws"
MAX_ANSWER = 10_000
bp = Blueprint("gap", __name__, url_prefix="/peer/v1")


def sign_gap_query(ctx: NodeContext, since: datetime) -> bytes:
    """This node's signed question: which messages from my state did you receive since ``since``?"""
    now = ctx.now()
    return signed.sign(ctx.identity, GAP_TYP, {"gcc_link_gap": 1, "node": ctx.state, "since": format_time(since),
                                               "at": format_time(now)}, now)


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
    verified = signed.verify(query, GAP_TYP, ctx.directory(), ctx.now(), fields=_fields,
                             state_of=lambda p: str(p["node"]), max_bytes=16384,
                             signed_at=lambda p: parse_time(p["at"]), window_seconds=signed.CLOCK_SKEW_SECONDS)
    asker = str(verified.payload["node"])
    since = parse_time(verified.payload["since"]).timestamp()
    with ctx.db.read() as s:
        rows = s.execute(select(InboxMessage.receipt)
                         .where(InboxMessage.sender.like(f"{asker}/%"), InboxMessage.received_at >= since)
                         .order_by(InboxMessage.seq).limit(MAX_ANSWER + 1)).scalars().all()
    return {"node": ctx.state, "for": asker, "since": verified.payload["since"],
            "receipts": [bytes(r).decode("ascii") for r in rows[:MAX_ANSWER]], "truncated": len(rows) > MAX_ANSWER}


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


def check_gap(ctx: NodeContext, since: datetime, until: datetime | None = None) -> dict[str, Any]:
    """Ask every other member for what it received from us since ``since``; report what our store lacks."""
    from .transport import peer_url, session

    directory = ctx.directory()
    root = directory.root_certificate
    query = sign_gap_query(ctx, since)
    peers: dict[str, Any] = {}
    lost: list[dict[str, Any]] = []
    for member in directory.members:
        cc = member.cc
        if cc == ctx.state:
            continue
        url = peer_url(ctx, cc, "/peer/v1/gap")
        try:
            r = session(ctx).post(url or "", data=query, headers={"Content-Type": "application/jose"},
                                  timeout=ctx.config.request_timeout_seconds)
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
            found.append({"id": payload["receipt_for"], "peer": cc, "received_at": payload["received_at"],
                          "message_sha256": payload["message_sha256"]})
        ids = [f["id"] for f in found]
        known: set[str] = set()
        with ctx.db.read() as s:
            for i in range(0, len(ids), 500):
                known |= set(s.execute(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids[i:i + 500]))).scalars())
        missing = [f for f in found if f["id"] not in known]
        lost += missing
        peers[cc] = {"reachable": True, "received_since": len(found), "unknown_here": len(missing),
                     "invalid_receipts": bad, "truncated": bool(answer.get("truncated"))}
    return {"node": ctx.state, "since": format_time(since), "until": format_time(until or ctx.now()),
            "peers": peers, "lost": sorted(lost, key=lambda f: (f["received_at"], f["id"])),
            "complete": all(p.get("reachable") and "error" not in p and not p.get("truncated") for p in peers.values())}
