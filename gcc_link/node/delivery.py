"""Delivery workers: send queued messages to peer nodes in batches, settle them by receipt.

A worker claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers never claim the same row; on SQLite one worker runs) by
pushing their ``next_attempt_at`` past a lease, sends each peer's messages as
one ``POST /peer/v1/messages:batch``, and settles each row by its receipt:
``accepted`` → ``delivered``, ``rejected`` → ``failed`` with the code.
Network errors, 5xx and invalid receipts retry with exponential backoff and
jitter until the message's TTL, then ``dead``. A worker that dies mid-send
loses nothing: its lease runs out and the row is claimed again, and the
receiver answers a repeated id with its original receipt.

Claims, settles and retry times commit with ``db.write(durable=False)``
(SQLite ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit = off``):
they survive a crash of the process, and a power cut can lose only the last
of them. That is recovered by the protocol itself: a lost claim or retry
time makes the row due again at once; a lost settle leaves the row
``queued``, so it is sent again and the receiver, which already stored the
message, answers the repeated id with its original receipt
(``receiving.receive_many``: same id and bytes, or a re-signed version of the
same sender's message, get the stored receipt and no second inbox entry);
the settle is then written again. What was acknowledged to an agency (the
outbox row, committed before its 202) and re-signed versions (the
receiver's receipt names their hash) stay fully durable.

The worker sleeps ``poll_seconds`` only while nothing is queued, and a new
message rings its ``doorbell`` so it is sent at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import select, update

from ..protocol.errors import BadReceiptError, GccLinkError
from ..protocol.message import Message
from ..protocol.receipt import Receipt
from . import logstore, traffic
from .archive import ArchiveSchedule
from .context import NodeContext
from .doorbell import Doorbell
from .models import OutboxMessage
from .retry import backoff
from .transport import peer_url, session
from .webhooks import push_once

log = logging.getLogger("gcc_link.node.delivery")


@dataclass
class Claimed:
    id: str
    peer: str
    jws: bytes
    attempts: int
    signed_at: float
    expires_at: float
    versions: str


class DeliveryWorker:
    """One delivery loop; run several (PostgreSQL) in separate processes."""

    def __init__(self, ctx: NodeContext, name: str = "delivery") -> None:
        self.ctx = ctx
        self.name = name
        # a claim outlives any send (request timeout) and its settling; then the row is due again
        self.lease = ctx.config.request_timeout_seconds + 15
        self.pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix=f"{name}-send")
        self.push = any(a.webhook_url for a in ctx.config.agencies)

    # --- claiming ---------------------------------------------------------
    def claim(self, now: float, limit: int) -> list[Claimed]:
        """Claim up to ``limit`` due rows (lease), marking those past their TTL ``dead``."""

        def work(s) -> list[Claimed]:
            q = (
                select(OutboxMessage)
                .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at)
                .limit(limit)
            )
            if not self.ctx.db.sqlite:
                q = q.with_for_update(skip_locked=True)
            out = []
            for row in s.execute(q).scalars():
                if row.expires_at <= now:
                    row.status, row.last_error = "dead", (row.last_error or "ttl expired") + " (ttl expired)"
                    continue
                row.attempts += 1
                row.next_attempt_at = now + self.lease
                out.append(
                    Claimed(row.id, row.peer, row.jws, row.attempts, row.signed_at, row.expires_at, row.versions)
                )
            return out

        return self.ctx.db.retrying(work, durable=False)

    def resign_if_stale(self, item: Claimed, now: datetime) -> Claimed:
        """Re-sign a message (same id) whose signature time would be stale at the receiver."""
        if now.timestamp() - item.signed_at < self.ctx.config.resign_after_seconds:
            return item
        ttl = int(item.expires_at - now.timestamp())
        if ttl < 1:
            return item
        msg = Message.unverified(item.jws).resign(self.ctx.identity, now, ttl)
        versions = (item.versions + " " + msg.sha256).strip()

        def store(s) -> None:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == item.id)
                .values(jws=msg.jws, signed_at=now.timestamp(), versions=versions)
            )
            logstore.append(s, "message_sent", item.id, msg.jws, now)

        self.ctx.db.retrying(store)
        return Claimed(item.id, item.peer, msg.jws, item.attempts, now.timestamp(), item.expires_at, versions)

    # --- sending ----------------------------------------------------------
    def run_once(self) -> int:
        """Claim due messages, send them per peer, settle them; returns how many were sent."""
        cfg = self.ctx.config
        now_dt = self.ctx.now()
        claimed = self.claim(now_dt.timestamp(), cfg.batch_size * 6)
        if not claimed:
            return 0
        by_peer: dict[str, list[Claimed]] = {}
        for item in claimed:
            try:
                item = self.resign_if_stale(item, now_dt)
            except GccLinkError as exc:
                self.retry([item], f"resign failed: {exc.code}")
                continue
            by_peer.setdefault(item.peer, []).append(item)
        batches = []
        for peer, items in by_peer.items():
            batch: list[Claimed] = []
            size = 0
            for item in items:
                if batch and (len(batch) >= cfg.batch_size or size + len(item.jws) > cfg.batch_max_bytes):
                    batches.append((peer, batch))
                    batch, size = [], 0
                batch.append(item)
                size += len(item.jws) + 4
            if batch:
                batches.append((peer, batch))
        list(self.pool.map(lambda pb: self.send_batch(*pb), batches))
        return len(claimed)

    def send_batch(self, peer: str, items: list[Claimed]) -> None:
        url = peer_url(self.ctx, peer, "/peer/v1/messages:batch")
        if url is None:
            self.retry(items, f"unknown_state: {peer} is not in the directory")
            return
        body = json.dumps([i.jws.decode("ascii") for i in items])
        started = time.monotonic()
        try:
            response = session(self.ctx).post(
                url,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=self.ctx.config.request_timeout_seconds,
            )
        except requests.RequestException as exc:
            self.retry(items, f"network: {type(exc).__name__}")
            return
        if response.status_code != 200:
            self.retry(items, f"http {response.status_code}")
            return
        try:
            receipts = response.json()
            if not isinstance(receipts, list) or len(receipts) != len(items):
                raise ValueError("receipt list does not match the batch")
        except ValueError as exc:
            self.retry(items, f"bad batch answer: {exc}")
            return
        self.settle(peer, items, receipts, started)

    def settle(self, peer: str, items: list[Claimed], receipts: list[object], started: float) -> None:
        now = self.ctx.now()
        directory = self.ctx.directory()
        results: list[tuple[Claimed, Receipt | None, str | None]] = []
        for item, data in zip(items, receipts, strict=True):
            try:
                if not isinstance(data, str) or not data:
                    raise BadReceiptError("empty receipt")
                receipt = Receipt.from_jws(data.encode("ascii"), directory=directory, now=now, expected_node=peer)
                if receipt.receipt_for != item.id or receipt.message_sha256 not in item.versions.split():
                    raise BadReceiptError("receipt is for another message")
                results.append((item, receipt, None))
            except (GccLinkError, UnicodeError) as exc:
                results.append((item, None, f"bad_receipt: {getattr(exc, 'code', exc)}"))
        cfg = self.ctx.config

        def store(s) -> None:
            conn = s.connection()
            for item, receipt, error in results:
                queued = (OutboxMessage.id == item.id) & (OutboxMessage.status == "queued")
                if receipt is None:
                    delay = backoff(item.attempts, cfg.backoff_base_seconds, cfg.backoff_max_seconds)
                    conn.execute(
                        update(OutboxMessage)
                        .where(queued)
                        .values(last_error=error, next_attempt_at=now.timestamp() + delay)
                    )
                    continue
                status, code = ("delivered", None) if receipt.accepted else ("failed", receipt.code)
                result: Any = conn.execute(
                    update(OutboxMessage)
                    .where(queued)
                    .values(status=status, last_error=code, receipt=receipt.jws, delivered_at=now.timestamp())
                )
                changed = result.rowcount
                if changed:
                    logstore.append(s, "receipt_received", item.id, receipt.jws, now)
                    traffic.record(s, peer, "sent", code, now)

        self.ctx.db.retrying(store, durable=False)
        accepted = sum(1 for _i, r, _e in results if r is not None and r.accepted)
        log.info(
            "%s: batch of %d to %s settled in %.3fs (%d accepted)",
            self.name,
            len(items),
            peer,
            time.monotonic() - started,
            accepted,
        )

    def retry(self, items: list[Claimed], error: str) -> None:
        cfg = self.ctx.config
        now = self.ctx.time()

        def store(s) -> None:
            for item in items:
                row = s.get(OutboxMessage, item.id)
                if row is None or row.status != "queued":
                    continue
                delay = backoff(row.attempts, cfg.backoff_base_seconds, cfg.backoff_max_seconds)
                row.last_error = error
                if now + delay >= row.expires_at:
                    delay = max(0.0, row.expires_at - now)  # one last look at the TTL, then dead
                row.next_attempt_at = now + delay

        self.ctx.db.retrying(store, durable=False)
        log.info("retrying %d message(s): %s", len(items), error)

    def release_leases(self) -> int:
        """SQLite runs a single worker, so at its start no claim can be alive: make them due now.

        (An early retry of a row that was only backing off is harmless: the
        receiver answers repeats with the original receipt.)
        """
        if not self.ctx.db.sqlite:
            return 0
        now = self.ctx.time()
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at > now)
            .values(next_attempt_at=now)
        )
        result: Any = self.ctx.db.retrying(lambda s: s.execute(stmt), durable=False)
        return int(result.rowcount)

    def run_forever(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; idles up to ``poll_seconds`` when nothing is due, or until rung."""
        bell = Doorbell(self.ctx.config.data_dir)  # before the first claim: a ring from then on is not lost
        log.info(
            "%s started (released %d claim(s)%s)",
            self.name,
            self.release_leases(),
            "" if bell.listening else "; polling only",
        )
        archiving = ArchiveSchedule(self.ctx)
        try:
            self._loop(stop, bell, archiving)
        finally:
            bell.close()

    def _loop(self, stop: threading.Event, bell: Doorbell, archiving: ArchiveSchedule) -> None:
        while not stop.is_set():
            try:
                archiving.tick()  # retention.archive_in_worker: at most hourly
                sent = self.run_once()
                if self.push:
                    sent += push_once(self.ctx)
            except Exception:  # noqa: BLE001 - a worker must survive transient DB errors
                log.exception("delivery round failed")
                sent = 0
            if not sent and not stop.is_set():
                bell.wait(self.ctx.config.poll_seconds)
