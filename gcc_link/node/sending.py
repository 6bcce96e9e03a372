"""Agency sends: validate the request, sign the message, commit it to the outbox.

The outbox row and its log entry commit in one durable transaction before
``POST /api/v1/messages`` answers 202, so an accepted message survives a
crash at any later point. ``POST /api/v1/messages:batch`` checks and signs
each item exactly as a single send (:func:`prepare`) and commits all valid
items of the batch in one such transaction (:func:`store`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..protocol.errors import GccLinkError
from ..protocol.identifiers import AgencyId, ServiceId, parse_uuid4
from ..protocol.message import MAX_TTL_SECONDS, Message, MessageTooLargeError
from . import logstore
from .apierrors import ApiError
from .context import NodeContext
from .doorbell import ring
from .models import OutboxMessage, Service

_INSERT_OUTBOX = insert(OutboxMessage)
_ALLOWED = {"recipient", "body", "service", "conversation_id", "in_reply_to", "ttl_seconds", "content_type", "sender"}


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


def check_service_exists(ctx: NodeContext, session: Session | None, service: ServiceId) -> None:
    """``unknown_service`` unless the provider publishes ``service`` (directory, or our store)."""
    if service.state == ctx.state:
        assert session is not None
        if session.get(Service, str(service)) is None:
            raise ApiError(404, "unknown_service", f"{service} is not a service of this node")
        return
    member = ctx.directory().member(service.state)
    if member is None or str(service) not in member.services:
        raise ApiError(404, "unknown_service", f"{service} is not published in the member directory")


def check_recipient(ctx: NodeContext, recipient: AgencyId) -> None:
    """``unknown_state`` / ``unknown_recipient`` for addresses nobody can deliver to."""
    if ctx.directory().member(recipient.state) is None:
        raise ApiError(422, "unknown_state", f"{recipient.state} is not a member state in the directory")
    if recipient.state == ctx.state and str(recipient) not in ctx.config.agency_ids:
        raise ApiError(422, "unknown_recipient", f"{recipient} is not an agency of this node")


def parse_send_request(ctx: NodeContext, agency: str, data: Any) -> dict[str, Any]:
    """Validate a send request body; returns keyword arguments for ``Message.create``."""
    if not isinstance(data, dict):
        raise _bad("a send request must be a JSON object")
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise _bad(f"unknown field(s): {unknown}")
    if "sender" in data and data["sender"] != agency:
        raise ApiError(403, "sender_mismatch", f"this client may only send as {agency}")
    if "recipient" not in data or "body" not in data:
        raise _bad("recipient and body are required")
    try:
        recipient = AgencyId.parse(data["recipient"])
    except GccLinkError:
        raise _bad("recipient must be an agency address CC/AGENCY") from None
    kwargs: dict[str, Any] = {"sender": agency, "recipient": str(recipient), "body": data["body"]}
    service = data.get("service")
    if service is not None:
        try:
            sid = ServiceId.parse(service)
        except GccLinkError:
            raise _bad("service must be a service address CC/AGENCY/code") from None
        if sid.provider != recipient:
            raise _bad("service must be provided by the recipient agency")
        kwargs["service"] = str(sid)
    for key in ("conversation_id", "in_reply_to"):
        value = data.get(key)
        if value is not None:
            try:
                parse_uuid4(value, key)
            except GccLinkError:
                raise _bad(f"{key} must be a lower-case UUID4") from None
            kwargs[key] = value
    ttl = data.get("ttl_seconds")
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
            raise _bad(f"ttl_seconds must be an integer from 1 to {MAX_TTL_SECONDS}")
        kwargs["ttl_seconds"] = ttl
    ctype = data.get("content_type")
    if ctype is not None:
        if not isinstance(ctype, str):
            raise _bad("content_type must be a string")
        kwargs["content_type"] = ctype
    check_recipient(ctx, recipient)
    return kwargs


def sign_message(ctx: NodeContext, kwargs: dict[str, Any], now: datetime) -> Message:
    """Sign as this node; format problems become 400, oversize 413."""
    try:
        return Message.create(ctx.identity, now=now, max_bytes=ctx.config.max_body_bytes, **kwargs)
    except MessageTooLargeError as exc:
        raise ApiError(413, "too_large", exc.message) from None
    except GccLinkError as exc:
        raise _bad(exc.message) from None


def prepare(ctx: NodeContext, session: Session, agency: str, data: Any, now: datetime) -> Message:
    """Validate one send request and sign its message (nothing is stored); raises ``ApiError``.

    The one check of a send request, shared by ``POST /api/v1/messages`` and
    each item of ``POST /api/v1/messages:batch``. ``session`` is a read
    session, used only when the request names a service of this node.
    """
    kwargs = parse_send_request(ctx, agency, data)
    if "service" in kwargs:
        check_service_exists(ctx, session, ServiceId.parse(kwargs["service"]))
    return sign_message(ctx, kwargs, now)


def _outbox_row(message: Message, ts: float) -> dict[str, Any]:
    return dict(
        id=message.id,
        sender=message.sender,
        recipient=message.recipient,
        peer=message.recipient_state,
        service=message.service,
        conversation_id=message.conversation_id,
        jws=message.jws,
        status="queued",
        attempts=0,
        next_attempt_at=ts,
        created_at=ts,
        signed_at=ts,
        expires_at=message.expires_at.timestamp(),
        versions=message.sha256,
    )


def store(ctx: NodeContext, messages: list[Message], now: datetime) -> None:
    """Commit ``messages`` to the outbox and their ``message_sent`` log entries in ONE durable transaction.

    One commit (one fsync on SQLite) for the whole list: that is what makes a
    batch cheaper per message than single sends. The outbox rows go in as one
    executemany; the log entries are appended in list order.
    """
    if not messages:
        return
    ts = now.timestamp()
    rows = [_outbox_row(m, ts) for m in messages]

    def work(session: Session) -> None:
        session.connection().execute(_INSERT_OUTBOX, rows)
        logstore.append_many(session, [("message_sent", m.id, m.jws) for m in messages], now)

    ctx.db.retrying(work)
    ring(ctx.config.data_dir)  # the delivery worker sends them now, not at its next poll


def queue(ctx: NodeContext, agency: str, data: Any) -> Message:
    """Validate, sign and durably queue one message; returns it once committed."""
    now = ctx.now()
    with ctx.db.read() as session:
        message = prepare(ctx, session, agency, data, now)
    store(ctx, [message], now)
    return message


def parse_batch_request(data: Any, max_messages: int) -> list[Any]:
    """The items of a batch send request ``{"messages": [...]}``; whole-request problems raise ``ApiError``.

    Only the envelope is checked here (an object with exactly ``messages``, a
    non-empty list of at most ``max_messages``); each item is checked by
    :func:`prepare` like a single send, and refused on its own.
    """
    if not isinstance(data, dict):
        raise _bad('the request body must be a JSON object {"messages": [...]}')
    unknown = sorted(set(data) - {"messages"})
    if unknown:
        raise _bad(f"unknown field(s): {unknown}")
    items = data.get("messages")
    if not isinstance(items, list):
        raise _bad("messages must be a list of send requests")
    if not items:
        raise _bad("messages must hold at least one send request")
    if len(items) > max_messages:
        raise ApiError(
            413, "too_large", f"a batch holds at most {max_messages} messages (node.max_batch_messages); split it"
        )
    return items


def queue_batch(ctx: NodeContext, agency: str, items: list[Any]) -> list[Message | ApiError]:
    """Validate and sign every item, then queue all valid ones in one durable transaction.

    Returns, in request order, the queued message or the ``ApiError`` that
    refused the item (the same error a single send of it would get). Invalid
    items do not stop the others; a failure of the store itself (or of the
    node's own trust anchor) fails the whole request, and then nothing is stored.
    """
    now = ctx.now()
    results: list[Message | ApiError] = []
    with ctx.db.read() as session:
        for data in items:
            try:
                results.append(prepare(ctx, session, agency, data, now))
            except ApiError as exc:
                results.append(exc)
    store(ctx, [r for r in results if isinstance(r, Message)], now)
    return results


def outbox_status(ctx: NodeContext, agency: str, message_id: str) -> dict[str, Any]:
    """The status of a message this agency sent (404 for anyone else's)."""
    with ctx.db.read() as session:
        row = session.execute(select(OutboxMessage).where(OutboxMessage.id == message_id)).scalar_one_or_none()
        if row is None or row.sender != agency:
            raise ApiError(404, "not_found", "no message with this id was sent by this agency")
        return {
            "id": row.id,
            "status": row.status,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "recipient": row.recipient,
            "receipt": row.receipt.decode("ascii") if row.receipt else None,
        }
