"""The peer API (node to node): messages, batches, service calls, signed status."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import func, select

from .. import __version__
from ..protocol.errors import MalformedError
from ..protocol.message import peek_message_id
from ..protocol.receipt import Receipt
from ..protocol.status import NodeStatus
from . import calls, traffic
from .apierrors import ApiError
from .context import NodeContext
from .models import Grant, OutboxMessage, Service
from .mtls import peer_state
from .ratelimit import WindowLimiter
from .receiving import INTERNAL, parse_batch, receipt_status, receive_many

bp = Blueprint("peer", __name__, url_prefix="/peer/v1")
JOSE = "application/jose"
MAX_BATCH = 500


def ctx() -> NodeContext:
    return current_app.extensions["gcc_link"]


def _rejections(c: NodeContext) -> WindowLimiter:
    limiter = current_app.extensions.get("gcc_link.peer_rejections")
    if limiter is None:
        limiter = current_app.extensions["gcc_link.peer_rejections"] = WindowLimiter(
            c.config.max_peer_rejections_per_minute
        )
    return limiter


def _throttle(c: NodeContext) -> None:
    """429 for an address whose recent input was mostly refused: stop signing receipts for it for a while."""
    if _rejections(c).blocked(request.remote_addr or "?", c.time()):
        raise ApiError(429, "rate_limited", "too many rejected messages from this address; slow down")


def _count_rejections(c: NodeContext, outcomes: list) -> None:
    refused = sum(1 for o in outcomes if not o.accepted and o.code != INTERNAL)
    if refused:
        _rejections(c).hit(request.remote_addr or "?", c.time(), refused)


def _rejection(c: NodeContext, data: bytes, code: str, status: int) -> Response:
    receipt = Receipt.create(
        c.identity, message_jws=data, message_id=peek_message_id(data), status="rejected", code=code, now=c.now()
    )
    return Response(receipt.jws, status=status, mimetype=JOSE)


@bp.post("/messages")
def post_message() -> Response:
    """One message JWS in, its receipt out (202 accepted, 4xx rejected with a signed receipt)."""
    c = ctx()
    state = peer_state(c)
    _throttle(c)
    data = request.get_data()
    if len(data) > c.config.max_body_bytes:
        _rejections(c).hit(request.remote_addr or "?", c.time())
        return _rejection(c, data[:4096], "malformed", 413)
    outcome = receive_many(c, [data], peer_state=state, push=True)[0]
    _count_rejections(c, [outcome])
    if outcome.code == INTERNAL:
        raise ApiError(503, "unavailable", "the message could not be stored; retry")
    return Response(outcome.receipt, status=receipt_status(outcome.code), mimetype=JOSE)


@bp.post("/messages:batch")
def post_batch() -> Response:
    """A JSON list of message JWS in, the list of their receipts out (same order)."""
    c = ctx()
    state = peer_state(c)
    _throttle(c)
    try:
        items = parse_batch(request.get_data())
        if len(items) > MAX_BATCH:
            raise MalformedError(f"a batch holds at most {MAX_BATCH} messages")
    except MalformedError:
        _rejections(c).hit(request.remote_addr or "?", c.time())
        raise
    outcomes = receive_many(c, items, peer_state=state, push=True)
    _count_rejections(c, outcomes)
    body = [o.receipt.decode("ascii") for o in outcomes]
    return Response(json.dumps(body), status=200, mimetype="application/json")


@bp.post("/calls")
def post_call() -> Response:
    """A service request message in, the provider's signed response message out."""
    c = ctx()
    state = peer_state(c)
    data = request.get_data()
    if len(data) > c.config.max_body_bytes:
        return _rejection(c, data[:4096], "malformed", 413)
    status, body, mimetype = calls.serve(c, data, state)
    return Response(body, status=status, mimetype=mimetype)


@bp.get("/status")
def status() -> Response:
    """This node's signed status: version, directory version, queue depth, services."""
    c = ctx()
    with c.db.read() as s:
        depth = s.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "queued")
        ).scalar_one()
        services = sorted(s.execute(select(Service.id)).scalars())
        now = c.now()
        extra = {
            "uptime_seconds": max(0, int((now - c.started_at).total_seconds())),
            "traffic": traffic.last_24h(s, now),
            "catalogue": catalogue(c, s),
        }
    status = NodeStatus(
        node=c.state,
        software_version=__version__,
        directory_version=c.directory().version,
        queue_depth=depth,
        services=tuple(services),
        agencies=tuple(sorted(c.config.agency_ids)),
        at=now,
        extra=extra,
    )
    return Response(status.sign(c.identity).jws, status=200, mimetype=JOSE)


def catalogue(c: NodeContext, session: Any) -> list[dict[str, Any]]:
    """The services this node publishes with their readiness: what the portal shows as attested by the node."""
    configured = {svc.id: svc for svc in c.config.services}
    grants: dict[str, int] = {}
    for service, count in session.execute(select(Grant.service, func.count()).group_by(Grant.service)).all():
        grants[service] = int(count)
    items = []
    for row in session.execute(select(Service).order_by(Service.id)).scalars():
        svc = configured.get(row.id)
        items.append(
            {
                "id": row.id,
                "description": row.description[:200],
                "stage": svc.stage if svc else None,
                "channels": list(svc.channels) if svc else [],
                "e_payment": bool(svc.e_payment) if svc else False,
                "cross_border": True,
                "grants": grants.get(row.id, 0),
                "backend": bool(row.backend_url),
            }
        )
    return items
