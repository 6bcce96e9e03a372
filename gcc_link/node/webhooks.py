"""Push delivery of inbox messages to agency webhooks, signed by the node, retried.

An agency that configures ``webhook_url`` gets each accepted message POSTed
as ``application/jose``: a compact JWS (``typ: gcc-link-push+jws``) signed
by this node over the inbox item (which carries the original message JWS).
A 2xx answer acknowledges the item; anything else retries with backoff.
Pushing runs in the delivery worker and claims rows with a lease like the
outbox, so several workers on PostgreSQL never push the same item at once.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import requests
from sqlalchemy import select, update

from ..protocol.push import Push
from .context import NodeContext
from .inbox import item
from .models import InboxMessage
from .retry import backoff

log = logging.getLogger("gcc_link.node.webhooks")
MAX_PUSH_ATTEMPTS = 50


def _execute(session: Any, stmt: Any) -> None:
    session.execute(stmt)


def push_once(ctx: NodeContext, limit: int = 20, lease: float = 30.0) -> int:
    """Push due items; returns how many were attempted."""
    now = ctx.time()

    def claim(s) -> list[tuple[int, str, bytes, int]]:
        q = (
            select(InboxMessage)
            .where(InboxMessage.push_status == "pending", InboxMessage.push_next_at <= now)
            .order_by(InboxMessage.seq)
            .limit(limit)
        )
        if not ctx.db.sqlite:
            q = q.with_for_update(skip_locked=True)
        out = []
        for row in s.execute(q).scalars():
            agency = ctx.config.agency(row.recipient)
            if agency is None or not agency.webhook_url:
                row.push_status = None
                continue
            row.push_attempts += 1
            row.push_next_at = now + lease
            out.append(
                (row.seq, agency.webhook_url, Push.create(ctx.identity, item(row), ctx.now()).jws, row.push_attempts)
            )
        return out

    claimed = ctx.db.retrying(claim)
    cfg = ctx.config
    for seq, url, body, attempts in claimed:
        ok = False
        try:
            r = requests.post(
                url, data=body, headers={"Content-Type": "application/jose"}, timeout=cfg.request_timeout_seconds
            )
            ok = 200 <= r.status_code < 300
            reason = f"http {r.status_code}"
        except requests.RequestException as exc:
            reason = type(exc).__name__
        if ok:
            values = {"push_status": "pushed", "acked_at": ctx.time()}
        elif attempts >= MAX_PUSH_ATTEMPTS:
            values = {"push_status": "abandoned"}  # stays in the pull inbox
        else:
            values = {"push_next_at": ctx.time() + backoff(attempts, cfg.backoff_base_seconds, cfg.backoff_max_seconds)}
        stmt = update(InboxMessage).where(InboxMessage.seq == seq).values(**values)
        ctx.db.retrying(functools.partial(_execute, stmt=stmt))
        if not ok:
            log.info("webhook push of inbox item %s failed (%s); attempt %d", seq, reason, attempts)
    return len(claimed)
