"""Agency inboxes: pull with a cursor, acknowledge what was processed.

Items are returned in arrival order after the cursor (the opaque ``next``
value of the previous page); acknowledged items are not returned again.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update

from ..params import ascii_int
from ..protocol.timefmt import format_time
from .apierrors import ApiError
from .context import NodeContext
from .models import InboxMessage

MAX_LIMIT = 500


def item(row: InboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "sender": row.sender,
        "recipient": row.recipient,
        "service": row.service,
        "conversation_id": row.conversation_id,
        "in_reply_to": row.in_reply_to,
        "content_type": row.content_type,
        "body": json.loads(row.body),
        "received_at": format_time(datetime.fromtimestamp(row.received_at, timezone.utc)),
        "jws": row.jws.decode("ascii"),
        "receipt": row.receipt.decode("ascii"),
    }


def parse_cursor(after: str | None) -> int:
    if after in (None, ""):
        return 0
    cursor = ascii_int(after, 0, 10**18 - 1)
    if cursor is None:
        raise ApiError(400, "invalid_cursor", "after must be a cursor returned as 'next'")
    return cursor


def parse_limit(limit: str | None) -> int:
    if limit in (None, ""):
        return 100
    n = ascii_int(limit, 1, MAX_LIMIT)
    if n is None:
        raise ApiError(400, "invalid_request", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return n


def page(ctx: NodeContext, agency: str, after: str | None, limit: str | None) -> dict[str, Any]:
    cursor, n = parse_cursor(after), parse_limit(limit)
    with ctx.db.read() as session:
        rows = (
            session.execute(
                select(InboxMessage)
                .where(InboxMessage.recipient == agency, InboxMessage.seq > cursor, InboxMessage.acked_at.is_(None))
                .order_by(InboxMessage.seq)
                .limit(n)
            )
            .scalars()
            .all()
        )
        items = [item(r) for r in rows]
    return {"items": items, "next": str(rows[-1].seq if rows else cursor)}


def ack(ctx: NodeContext, agency: str, message_id: str) -> dict[str, Any]:
    def work(s) -> dict[str, Any]:
        row = s.execute(select(InboxMessage).where(InboxMessage.id == message_id)).scalar_one_or_none()
        if row is None or row.recipient != agency:
            raise ApiError(404, "not_found", "no message with this id in this agency's inbox")
        if row.acked_at is None:
            s.execute(update(InboxMessage).where(InboxMessage.seq == row.seq).values(acked_at=ctx.time()))
        return {"id": message_id, "acked": True}

    return ctx.db.retrying(work)
