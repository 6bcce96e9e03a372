"""SQLAlchemy models of a node's store (SQLite by default, PostgreSQL by URL).

Times are stored as float UNIX seconds (UTC): comparable and identical on
every backend. Message and receipt JWS are stored as the exact bytes signed
or received, because those bytes are the proof.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base; the alembic migrations mirror these tables."""


class OutboxMessage(Base):
    """A message an agency of this node sent, until a receipt settles it."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(40))
    peer: Mapped[str] = mapped_column(String(2))
    service: Mapped[str | None] = mapped_column(String(110), nullable=True)
    conversation_id: Mapped[str] = mapped_column(String(36))
    jws: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued delivered failed dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    signed_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # sha256 of every version signed (a message is re-signed when a retry would be stale)
    versions: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_sender", "sender"),
        Index("ix_outbox_queue_age", "status", "peer", "created_at"),  # oldest queued per peer (metrics)
    )


class InboxMessage(Base):
    """A message this node accepted for one of its agencies (exactly once per id)."""

    __tablename__ = "inbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    recipient: Mapped[str] = mapped_column(String(40))
    sender: Mapped[str] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(String(110), nullable=True)
    conversation_id: Mapped[str] = mapped_column(String(36))
    in_reply_to: Mapped[str | None] = mapped_column(String(36), nullable=True)
    content_type: Mapped[str] = mapped_column(String(130))
    body: Mapped[str] = mapped_column(Text)  # canonical JSON of the body
    jws: Mapped[bytes] = mapped_column(LargeBinary)
    message_sha256: Mapped[str] = mapped_column(String(64))
    receipt: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[float] = mapped_column(Float)
    acked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    push_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # pending pushed
    push_attempts: Mapped[int] = mapped_column(Integer, default=0)
    push_next_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_inbox_recipient", "recipient", "seq"),
        Index("ix_inbox_push", "push_status", "push_next_at"),
    )


class Rejection(Base):
    """A message this node rejected (for metrics and operators; the receipt went back)."""

    __tablename__ = "rejections"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    code: Mapped[str] = mapped_column(String(40))
    peer: Mapped[str | None] = mapped_column(String(2), nullable=True)
    at: Mapped[float] = mapped_column(Float)


class LogEntry(Base):
    """One entry of the hash-chained message log (see ``msglog``)."""

    __tablename__ = "message_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(36), nullable=True)
    at: Mapped[str] = mapped_column(String(32))
    item_sha256: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_log_ref", "ref"),)


class LogPending(Base):
    """A log entry recorded in its transaction and not chained yet (PostgreSQL stores; see ``logstore``)."""

    __tablename__ = "message_log_pending"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(36), nullable=True)
    at: Mapped[str] = mapped_column(String(32))
    item_sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_log_pending_ref", "ref"),)


class LogHead(Base):
    """The single row holding the log's head; locked by whoever chains (see ``logstore``)."""

    __tablename__ = "message_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))


class OAuthClient(Base):
    """An agency's OAuth client: bound to one agency address, with its allowed scopes."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency: Mapped[str] = mapped_column(String(40))
    secret_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    auth_method: Mapped[str] = mapped_column(String(32))  # client_secret_basic | private_key_jwt
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)


class OAuthToken(Base):
    """An issued access token, stored only as its SHA-256."""

    __tablename__ = "oauth_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class UsedJti(Base):
    """``jti`` values of client assertions already used (RFC 7523 replay protection)."""

    __tablename__ = "oauth_used_jti"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float)


class Service(Base):
    """A service an agency of this node provides (seeded from config, editable by API)."""

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(110), primary_key=True)
    agency: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    backend_url: Mapped[str | None] = mapped_column(Text, nullable=True)


class Grant(Base):
    """Permission for an agency (of any state) to use a service of this node."""

    __tablename__ = "grants"

    service: Mapped[str] = mapped_column(String(110), primary_key=True)
    grantee: Mapped[str] = mapped_column(String(40), primary_key=True)

    __table_args__ = (UniqueConstraint("service", "grantee", name="uq_grant"),)


#: Counter rows are split into shards on PostgreSQL (the writing transaction's id modulo this, see
#: ``shards.py``), so concurrent transactions do not queue on one hot row; readers sum the shards.
#: SQLite uses shard 0 only.
SHARDS = 64


class TrafficHour(Base):
    """Messages and calls exchanged with one peer state in one hour, by direction and outcome.

    Kept in the same transaction as the message it counts, so the signed
    status reports the last 24 hours from at most 24 rows per peer and kind
    instead of scanning the outbox and inbox.
    """

    __tablename__ = "traffic_hourly"

    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # POSIX seconds // 3600
    peer: Mapped[str] = mapped_column(String(2), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16), primary_key=True)  # sent received calls_sent calls_received
    outcome: Mapped[str] = mapped_column(String(40), primary_key=True)  # ok, or the rejection/failure code
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)  # see ``SHARDS``
    count: Mapped[int] = mapped_column(Integer, default=0)


class MetricCounter(Base):
    """A running total for ``/metrics``, kept by database triggers (migration ``n10_counters``).

    ``name`` is the series (``sent``, ``attempts``, ``received``, ``rejected``,
    ``latency_bucket``, ``latency_count``, ``latency_sum``), ``l1``/``l2`` its
    labels (peer or code, status or bucket bound). Triggers on ``outbox``,
    ``inbox`` and ``rejections`` update it in the same transaction as the row,
    so a scrape reads a few rows instead of grouping every message, and
    archiving (which deletes rows) never makes a counter go down.
    """

    __tablename__ = "metric_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    l1: Mapped[str] = mapped_column(String(40), primary_key=True)
    l2: Mapped[str] = mapped_column(String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)  # see ``SHARDS``
    value: Mapped[float] = mapped_column(Float)
